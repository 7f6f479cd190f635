namespace CrossAttention.Core.Models;

// Placeholder until the checkpoint loader lands.
public static class ModelLoader
{
    public static CrossAttentionModel Load(string folder, string? name = null) =>
        throw new ModelLoadException($"{folder}: checkpoint loading is not available yet.");
}

public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
