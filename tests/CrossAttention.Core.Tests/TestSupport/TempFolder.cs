namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>A fresh folder under the temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder(string? name = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "crossattention-tests", Guid.NewGuid().ToString("N"),
            name ?? "model");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void WriteText(string name, string text) => System.IO.File.WriteAllText(File(name), text);

    public void Dispose()
    {
        try
        {
            Directory.Delete(System.IO.Path.GetDirectoryName(Path)!, recursive: true);
        }
        catch (IOException)
        {
            // A memory map still closing must not fail the test that made the folder.
        }
    }
}
