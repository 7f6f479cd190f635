using System.Text.Json;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Safetensors;

namespace CrossAttention.Core.Models;

public static partial class ModelLoader
{
    /// <summary>
    /// model_types whose decoder layers hold <c>encoder_attn.{q,k,v,out}_proj</c> (BartAttention and its copies):
    /// heads from decoder_attention_heads, scale head_dim^-0.5, every bias optional (Whisper's k_proj has none).
    /// </summary>
    public static IReadOnlyList<string> BartStyleModelTypes { get; } =
        ["bart", "mbart", "marian", "pegasus", "m2m_100", "blenderbot", "blenderbot-small", "whisper"];

    /// <summary>
    /// model_types whose decoder blocks hold <c>layer.1.EncDecAttention.{q,k,v,o}</c>: no biases, and no score
    /// scaling at all (T5 folds it into the initialisation of q), so scale 1.
    /// </summary>
    public static IReadOnlyList<string> T5StyleModelTypes { get; } = ["t5", "mt5", "umt5"];

    private static CrossAttentionModel LoadHuggingFace(string folder, string name, JsonElement config,
        KeyValueElementType weightsType)
    {
        string modelType = RequiredString(config, "model_type", ConfigFileName);
        if (BartStyleModelTypes.Contains(modelType))
        {
            int heads = RequiredPositiveInt(config, "decoder_attention_heads", ConfigFileName);
            int layers = RequiredPositiveInt(config, "decoder_layers", ConfigFileName);
            return LoadHuggingFaceLayers(folder, name, modelType, heads, "config.json decoder_attention_heads", layers,
                scale: null, expectedInner: null,
                i => $"decoder.layers.{i}.encoder_attn.", ["q_proj", "k_proj", "v_proj", "out_proj"], weightsType);
        }
        if (T5StyleModelTypes.Contains(modelType))
        {
            int heads = RequiredPositiveInt(config, "num_heads", ConfigFileName);
            int? headDim = OptionalPositiveInt(config, "d_kv", ConfigFileName);
            int layers = OptionalPositiveInt(config, "num_decoder_layers", ConfigFileName)
                ?? RequiredPositiveInt(config, "num_layers", ConfigFileName);
            return LoadHuggingFaceLayers(folder, name, modelType, heads, "config.json num_heads", layers,
                scale: 1f, expectedInner: heads * headDim,
                i => $"decoder.block.{i}.layer.1.EncDecAttention.", ["q", "k", "v", "o"], weightsType);
        }
        throw new ModelLoadException($"{ConfigFileName}: model_type '{modelType}' is not supported (supported: " +
            string.Join(", ", BartStyleModelTypes.Concat(T5StyleModelTypes)) + ")");
    }

    /// <param name="modulePrefix">layer index → the cross-attention module's name, ending in a dot</param>
    /// <param name="projections">the q, k, v and output projections' names inside that module</param>
    private static CrossAttentionModel LoadHuggingFaceLayers(string folder, string name, string modelType, int heads,
        string headsSource, int layerCount, float? scale, int? expectedInner, Func<int, string> modulePrefix,
        string[] projections, KeyValueElementType weightsType)
    {
        using var checkpoint = SafetensorsCheckpoint.OpenFolder(folder);
        // …ForConditionalGeneration checkpoints nest the encoder-decoder under "model."; the bare model does not.
        string probe = modulePrefix(0) + projections[0] + ".weight";
        string root = checkpoint.Contains(probe) ? ""
            : checkpoint.Contains("model." + probe) ? "model."
            : throw new ModelLoadException($"{checkpoint.SourceName}: tensor '{probe}' is missing (nor 'model.{probe}'); " +
                $"is this a {modelType} checkpoint?");

        var dims = new LayerDims { Inner = expectedInner };
        var layers = new CrossAttentionLayer[layerCount];
        for (int i = 0; i < layerCount; i++)
        {
            string module = root + modulePrefix(i);
            layers[i] = ReadLayer(i, checkpoint,
                ProjectionNames.Of(module + projections[0]), ProjectionNames.Of(module + projections[1]),
                ProjectionNames.Of(module + projections[2]), ProjectionNames.Of(module + projections[3]),
                heads, headsSource, scale, dims, weightsType);
        }
        return new CrossAttentionModel(name, modelType, layers);
    }
}
