namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>Finds ../shared/golden: CROSSATTENTION_GOLDEN if set, else the first ancestor of the test binaries holding shared/golden.</summary>
internal static class GoldenCases
{
    public const string EnvironmentVariable = "CROSSATTENTION_GOLDEN";

    /// <summary>The cases the tests expect at the least; any further case folder is run as well.</summary>
    public static readonly string[] Known = ["bart", "whisper", "torch_mha_packed"];

    /// <summary>The golden folder; fails the test, with where it looked, when there is none.</summary>
    public static string Folder()
    {
        string? folder = TryFolder();
        if (folder is null)
        {
            string? configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
            Assert.Fail(string.IsNullOrWhiteSpace(configured)
                ? $"No shared/golden folder above {AppContext.BaseDirectory}; set {EnvironmentVariable} to the golden cases' folder."
                : $"{EnvironmentVariable}={configured} is not a folder.");
        }
        return folder!;
    }

    public static string? TryFolder()
    {
        string? configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured)) return Directory.Exists(configured) ? configured : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "golden");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>
    /// Every case folder (one holding case.json); when the golden folder is missing, the known names, so that each
    /// test still runs and fails saying why instead of vanishing from the run.
    /// </summary>
    public static IReadOnlyList<string> Names()
    {
        string? folder = TryFolder();
        if (folder is null) return Known;
        return Directory.GetDirectories(folder)
            .Where(d => File.Exists(Path.Combine(d, "case.json")))
            .Select(d => Path.GetFileName(d)!)
            .Union(Known)
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    public static string Case(string name)
    {
        string folder = Path.Combine(Folder(), name);
        Assert.True(Directory.Exists(folder), $"Golden case '{name}' is missing from {Folder()}.");
        return folder;
    }
}
