using System.Text.Json;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Safetensors;

namespace CrossAttention.Core.Models;

/// <summary>
/// Reads the cross-attention of every decoder layer from a checkpoint folder:
/// <list type="bullet">
/// <item>a Hugging Face folder (config.json + model.safetensors or a sharded index), by <c>model_type</c>;</item>
/// <item>a folder with cross_attention.json, which takes precedence: <c>"format": "torch-mha"</c> for a
/// torch.nn.MultiheadAttention state dict, or <c>"format": "linear"</c> naming each layer's q/k/v/o projections.</item>
/// </list>
/// Every failure is a <see cref="ModelLoadException"/> naming the folder, the file and, where one is to blame, the tensor.
/// </summary>
public static partial class ModelLoader
{
    public const string ConfigFileName = "config.json";
    public const string CrossAttentionFileName = "cross_attention.json";

    /// <param name="folder">the checkpoint folder</param>
    /// <param name="name">the model's name; defaults to the folder's name</param>
    /// <param name="weightsType">what to store the weights as: F16/BF16 tensors of that same type are packed as they
    /// are, any other weight type is converted (rounded to nearest even when narrowed)</param>
    public static CrossAttentionModel Load(string folder, string? name = null,
        KeyValueElementType weightsType = KeyValueElementType.Float32)
    {
        if (string.IsNullOrWhiteSpace(folder)) throw new ModelLoadException("No model folder was given.");
        try
        {
            if (!Directory.Exists(folder)) throw new ModelLoadException("not a folder, or not readable");
            name ??= Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
            if (string.IsNullOrWhiteSpace(name)) throw new ModelLoadException("the folder has no name to give the model; pass one");

            if (File.Exists(Path.Combine(folder, CrossAttentionFileName)))
            {
                using var spec = ReadJsonObject(folder, CrossAttentionFileName);
                string format = RequiredString(spec.RootElement, "format", CrossAttentionFileName);
                return format switch
                {
                    TorchMhaFamily => LoadTorchMha(folder, name, spec.RootElement, weightsType),
                    LinearFamily => LoadLinear(folder, name, spec.RootElement, weightsType),
                    _ => throw new ModelLoadException(
                        $"{CrossAttentionFileName}: format '{format}' is not supported (supported: {TorchMhaFamily}, {LinearFamily})"),
                };
            }
            if (File.Exists(Path.Combine(folder, ConfigFileName)))
            {
                using var config = ReadJsonObject(folder, ConfigFileName);
                return LoadHuggingFace(folder, name, config.RootElement, weightsType);
            }
            throw new ModelLoadException($"neither {ConfigFileName} (Hugging Face) nor {CrossAttentionFileName} found");
        }
        catch (Exception e) when (e is ModelLoadException or SafetensorsException)
        {
            throw new ModelLoadException($"{folder}: {e.Message}", e);
        }
        catch (Exception e)
        {
            throw new ModelLoadException($"{folder}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static JsonDocument ReadJsonObject(string folder, string fileName) =>
        CheckpointJson.ReadObject(Path.Combine(folder, fileName));

    private static bool IsPresent(JsonElement json, string key, out JsonElement value) =>
        json.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    private static string RequiredString(JsonElement json, string key, string fileName) =>
        IsPresent(json, key, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new ModelLoadException($"{fileName}: '{key}' is missing or not a string");

    private static string? OptionalString(JsonElement json, string key, string fileName)
    {
        if (!IsPresent(json, key, out var value)) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw new ModelLoadException($"{fileName}: '{key}' is not a string ({value.GetRawText()})");
    }

    /// <summary>A positive integer setting, or null when absent.</summary>
    private static int? OptionalPositiveInt(JsonElement json, string key, string fileName)
    {
        if (!IsPresent(json, key, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number) || number < 1)
            throw new ModelLoadException($"{fileName}: '{key}' must be a positive integer, is {value.GetRawText()}");
        return number;
    }

    private static int RequiredPositiveInt(JsonElement json, string key, string fileName) =>
        OptionalPositiveInt(json, key, fileName) ?? throw new ModelLoadException($"{fileName}: '{key}' is missing");
}
