using System.Diagnostics;
using System.Globalization;

namespace CrossAttention.Api.Tests.Observability;

/// <summary>Reads samples out of a Prometheus text exposition, and checks one with promtool.</summary>
public static class Exposition
{
    /// <summary>The value of the sample with this name whose labels include every given label="value".</summary>
    public static double? Value(string exposition, string name, params string[] labels)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            int brace = line.IndexOf('{'), space = line.LastIndexOf(' ');
            string sampleName = brace > 0 ? line[..brace] : line[..line.IndexOf(' ')];
            if (sampleName != name) continue;
            string labelText = brace > 0 ? line[brace..(line.LastIndexOf('}') + 1)] : "";
            if (labels.All(l => labelText.Contains(l, StringComparison.Ordinal)))
                return double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return null;
    }

    public const string PromtoolMissing =
        "promtool was not found on PATH; the exposition test needs it. Install Debian's prometheus package " +
        "(`apt-get install -y --no-install-recommends prometheus`; .ci/run does this).";

    /// <summary>Runs `promtool check metrics` on the exposition; returns its exit code and what it printed.</summary>
    public static async Task<(int ExitCode, string Output)> PromtoolCheckAsync(string exposition)
    {
        var promtool = FindOnPath("promtool");
        // Fail (not skip) so a CI without promtool is noticed; locally the message says what to install.
        Assert.True(promtool is not null, PromtoolMissing);
        var start = new ProcessStartInfo(promtool!, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
