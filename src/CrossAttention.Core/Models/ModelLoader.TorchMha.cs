using System.Text.Json;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Safetensors;

namespace CrossAttention.Core.Models;

public static partial class ModelLoader
{
    public const string TorchMhaFamily = "torch-mha";

    /// <summary>
    /// A torch.nn.MultiheadAttention state dict: <c>{prefix}.in_proj_weight</c> [3E, E] (q, k, v stacked by rows)
    /// when kdim = vdim = E, else <c>{prefix}.{q,k,v}_proj_weight</c>; optional <c>in_proj_bias</c> [3E];
    /// <c>out_proj.weight</c> [E, E] with optional bias. One layer, scale head_dim^-0.5.
    /// </summary>
    private static CrossAttentionModel LoadTorchMha(string folder, string name, JsonElement spec,
        KeyValueElementType weightsType)
    {
        int heads = RequiredPositiveInt(spec, "heads", CrossAttentionFileName);
        string prefix = OptionalString(spec, "prefix", CrossAttentionFileName) ?? "";
        string p = prefix.Length == 0 ? "" : prefix + ".";
        using var checkpoint = OpenNamedWeights(folder,
            OptionalString(spec, "weights", CrossAttentionFileName) ?? SafetensorsCheckpoint.SingleFileName);

        // add_bias_kv appends a learned key/value position to every source; serving without it would be wrong.
        foreach (string extra in new[] { p + "bias_k", p + "bias_v" })
            if (checkpoint.Contains(extra))
                throw new ModelLoadException($"{checkpoint.FileOf(extra)}: tensor '{extra}' (add_bias_kv) is not supported");

        var output = ReadLinear(checkpoint, ProjectionNames.Of(p + "out_proj"), null, null, weightsType);
        int embed = output.OutFeatures;
        if (output.InFeatures != embed)
            throw new ModelLoadException($"{checkpoint.FileOf(p + "out_proj.weight")}: tensor '{p}out_proj.weight' has shape " +
                $"[{output.OutFeatures}, {output.InFeatures}], expected [{embed}, {embed}]");
        if (embed % heads != 0)
            throw new ModelLoadException($"{checkpoint.FileOf(p + "out_proj.weight")}: embed_dim {embed} is not a multiple of " +
                $"{heads} heads ({CrossAttentionFileName} heads)");

        string packedName = p + "in_proj_weight";
        // The q, k and v weights as (matrix, first row): rows 0, E and 2E of one stacked matrix, or row 0 of three.
        (StoredMatrix Matrix, int FirstRow) qWeight, kWeight, vWeight;
        if (checkpoint.Contains(packedName))
        {
            var stacked = ReadMatrix(checkpoint, packedName, 3 * embed, embed, weightsType);
            (qWeight, kWeight, vWeight) = ((stacked, 0), (stacked, embed), (stacked, 2 * embed));
        }
        else
        {
            string qName = p + "q_proj_weight", kName = p + "k_proj_weight", vName = p + "v_proj_weight";
            if (!checkpoint.Contains(qName))
                throw new ModelLoadException($"{checkpoint.SourceName}: tensor '{packedName}' is missing (nor '{qName}')");
            qWeight = (ReadMatrix(checkpoint, qName, embed, embed, weightsType), 0);
            kWeight = (ReadMatrix(checkpoint, kName, embed, null, weightsType), 0);
            int sourceDim = kWeight.Matrix.Columns;
            var vInfo = checkpoint.Info(vName);
            if (vInfo.Rank == 2 && vInfo.Shape[0] == embed && vInfo.Shape[1] != sourceDim)
                throw new ModelLoadException($"{checkpoint.FileOf(vName)}: tensor '{vName}' has shape {vInfo.ShapeText}: " +
                    $"vdim {vInfo.Shape[1]} differs from kdim {sourceDim}, which this engine cannot serve (K and V must read the same source)");
            vWeight = (ReadMatrix(checkpoint, vName, embed, sourceDim, weightsType), 0);
        }

        float[]? qBias = null, kBias = null, vBias = null;
        string biasName = p + "in_proj_bias";
        if (checkpoint.Contains(biasName))
        {
            float[] packedBias = ReadVector(checkpoint, biasName, 3 * embed);
            qBias = packedBias.AsSpan(0, embed).ToArray();
            kBias = packedBias.AsSpan(embed, embed).ToArray();
            vBias = packedBias.AsSpan(2 * embed, embed).ToArray();
        }

        var layer = CreateLayer(0,
            qWeight.Matrix.Pack(qWeight.FirstRow, embed, qBias),
            kWeight.Matrix.Pack(kWeight.FirstRow, embed, kBias),
            vWeight.Matrix.Pack(vWeight.FirstRow, embed, vBias),
            output, heads, scale: null);
        return new CrossAttentionModel(name, TorchMhaFamily, [layer]);
    }
}
