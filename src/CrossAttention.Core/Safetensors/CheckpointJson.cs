using System.Text.Json;

namespace CrossAttention.Core.Safetensors;

/// <summary>Reads the small JSON files beside a checkpoint (configs, indexes), failing as a load error naming the file.</summary>
internal static class CheckpointJson
{
    /// <summary>The file's root object; the caller disposes the document.</summary>
    public static JsonDocument ReadObject(string path)
    {
        string name = Path.GetFileName(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(name, null, $"not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafetensorsException(name, null, $"cannot read ({e.Message})", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new SafetensorsException(name, null, "not a JSON object");
        }
        return document;
    }
}
