using System.Text.Json;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Safetensors;

namespace CrossAttention.Core.Models;

public static partial class ModelLoader
{
    public const string LinearFamily = "linear";

    /// <summary>
    /// Any checkpoint whose cross-attention is four nn.Linear per layer (e.g. Stable Diffusion's attn2):
    /// cross_attention.json names each layer's q, k, v and o modules; sizes come from the tensors,
    /// scale from the optional "scale" (else head_dim^-0.5).
    /// </summary>
    private static CrossAttentionModel LoadLinear(string folder, string name, JsonElement spec,
        KeyValueElementType weightsType)
    {
        int heads = RequiredPositiveInt(spec, "heads", CrossAttentionFileName);
        float? scale = null;
        if (IsPresent(spec, "scale", out var scaleElement))
        {
            if (scaleElement.ValueKind != JsonValueKind.Number || !scaleElement.TryGetDouble(out double s) ||
                !double.IsFinite(s) || s <= 0 || !float.IsFinite((float)s) || (float)s == 0)
                throw new ModelLoadException($"{CrossAttentionFileName}: 'scale' must be a positive number, is {scaleElement.GetRawText()}");
            scale = (float)s;
        }
        if (!IsPresent(spec, "layers", out var layersElement) || layersElement.ValueKind != JsonValueKind.Array ||
            layersElement.GetArrayLength() == 0)
            throw new ModelLoadException($"{CrossAttentionFileName}: 'layers' must be a non-empty array of {{\"q\",\"k\",\"v\",\"o\"}} module names");

        using var checkpoint = OpenNamedWeights(folder,
            OptionalString(spec, "weights", CrossAttentionFileName) ?? SafetensorsCheckpoint.SingleFileName);
        var dims = new LayerDims();
        var layers = new List<CrossAttentionLayer>();
        foreach (var entry in layersElement.EnumerateArray())
        {
            int i = layers.Count;
            if (entry.ValueKind != JsonValueKind.Object)
                throw new ModelLoadException($"{CrossAttentionFileName}: layers[{i}] is not an object");
            ProjectionNames Module(string key) =>
                ProjectionNames.Of(OptionalString(entry, key, CrossAttentionFileName) is { Length: > 0 } module
                    ? module
                    : throw new ModelLoadException($"{CrossAttentionFileName}: layers[{i}] has no '{key}' module name"));
            layers.Add(ReadLayer(i, checkpoint, Module("q"), Module("k"), Module("v"), Module("o"),
                heads, "cross_attention.json heads", scale, dims, weightsType));
        }
        return new CrossAttentionModel(name, LinearFamily, layers);
    }
}
