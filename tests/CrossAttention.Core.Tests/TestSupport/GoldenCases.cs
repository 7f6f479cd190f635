namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>Finds ../shared/golden: CROSSATTENTION_GOLDEN if set, else the first ancestor of the test binaries holding shared/golden.</summary>
internal static class GoldenCases
{
    public const string EnvironmentVariable = "CROSSATTENTION_GOLDEN";

    public static string Folder()
    {
        string? configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            Assert.True(Directory.Exists(configured), $"{EnvironmentVariable}={configured} is not a folder.");
            return configured;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "golden");
            if (Directory.Exists(candidate)) return candidate;
        }
        Assert.Fail($"No shared/golden folder above {AppContext.BaseDirectory}; set {EnvironmentVariable} to the golden cases' folder.");
        return "";
    }

    public static string Case(string name)
    {
        string folder = Path.Combine(Folder(), name);
        Assert.True(Directory.Exists(folder), $"Golden case '{name}' is missing from {Folder()}.");
        return folder;
    }
}
