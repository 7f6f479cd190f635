using System.Diagnostics;

namespace CrossAttention.Api.Tests;

/// <summary>The offline base-image script works wherever apt works: it names no mirror host of its own.</summary>
public class DeployScriptTests
{
    private static readonly string Script = Path.Combine(RepositoryRoot(), "deploy", "podman", "build-local-base-images.sh");

    [Fact]
    public void BaseImageScriptNamesNoMirrorHost() =>
        Assert.DoesNotMatch(@"https?://", File.ReadAllText(Script));

    [Theory]
    [InlineData("debian.sources", "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n", "http://mirror.example/debian")]
    [InlineData("sources.list", "# a comment\ndeb [arch=amd64] http://one.example/debian bookworm main\ndeb http://one.example/debian-security bookworm-security main\n", "http://one.example/debian")]
    public void BaseImageScriptTakesTheMirrorFromTheMachinesAptSources(string file, string content, string expected)
    {
        string sources = Directory.CreateTempSubdirectory("apt-sources").FullName;
        try
        {
            File.WriteAllText(Path.Combine(sources, file), content);
            var start = new ProcessStartInfo("bash", [Script, "--print-mirror"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["APT_SOURCES_DIR"] = sources;
            start.Environment.Remove("DEBIAN_MIRROR");
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, error);
            Assert.Equal(expected, output.Trim());
        }
        finally
        {
            Directory.Delete(sources, recursive: true);
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "CrossAttention.Api.sln"))) return directory.FullName;
        throw new InvalidOperationException("CrossAttention.Api.sln not found above " + AppContext.BaseDirectory);
    }
}
