using CrossAttention.Core.Kernels;
using CrossAttention.Core.Safetensors;

namespace CrossAttention.Core.Models;

public static partial class ModelLoader
{
    /// <summary>The tensor names of one nn.Linear: its weight, and its bias when the checkpoint has one.</summary>
    private readonly record struct ProjectionNames(string Weight, string Bias)
    {
        public static ProjectionNames Of(string module) => new(module + ".weight", module + ".bias");
    }

    /// <summary>
    /// The sizes every layer of a model shares; what the config promises, then what the first layer's tensors
    /// show. Null while still unknown.
    /// </summary>
    private sealed class LayerDims
    {
        public int? Inner;
        public int? QueryDim;
        public int? SourceDim;
    }

    /// <summary>
    /// Reads one layer's four projections, checking every shape against the others and against
    /// <paramref name="dims"/> (which the first layer fills in), then builds the layer.
    /// </summary>
    private static CrossAttentionLayer ReadLayer(int layerIndex, SafetensorsCheckpoint checkpoint,
        ProjectionNames q, ProjectionNames k, ProjectionNames v, ProjectionNames o, int heads, string headsSource,
        float? scale, LayerDims dims, KeyValueElementType weightsType)
    {
        var query = ReadLinear(checkpoint, q, dims.Inner, dims.QueryDim, weightsType);
        dims.Inner = query.OutFeatures;
        dims.QueryDim = query.InFeatures;
        if (query.OutFeatures % heads != 0)
            throw new ModelLoadException($"{checkpoint.FileOf(q.Weight)}: tensor '{q.Weight}' has {query.OutFeatures} outputs, " +
                $"not a multiple of {heads} heads ({headsSource})");
        var key = ReadLinear(checkpoint, k, dims.Inner, dims.SourceDim, weightsType);
        dims.SourceDim = key.InFeatures;
        var value = ReadLinear(checkpoint, v, dims.Inner, dims.SourceDim, weightsType);
        var output = ReadLinear(checkpoint, o, dims.QueryDim, dims.Inner, weightsType);
        return CreateLayer(layerIndex, query, key, value, output, heads, scale);
    }

    /// <summary>
    /// The layer constructor's own checks, reported as a load failure naming the layer (<see cref="Load"/> adds the folder).
    /// </summary>
    private static CrossAttentionLayer CreateLayer(int layerIndex, PackedLinear query, PackedLinear key,
        PackedLinear value, PackedLinear output, int heads, float? scale)
    {
        try
        {
            return new CrossAttentionLayer(query, key, value, output, heads, scale);
        }
        catch (ArgumentException e)
        {
            throw new ModelLoadException($"layer {layerIndex} cannot be built: {e.Message}", e);
        }
    }

    /// <param name="rows">the out-features the weight must have, or null to take them from the tensor</param>
    /// <param name="columns">the in-features the weight must have, or null to take them from the tensor</param>
    private static PackedLinear ReadLinear(SafetensorsCheckpoint checkpoint, ProjectionNames names, int? rows, int? columns,
        KeyValueElementType weightsType)
    {
        var weight = ReadMatrix(checkpoint, names.Weight, rows, columns, weightsType);
        float[]? bias = checkpoint.Contains(names.Bias) ? ReadVector(checkpoint, names.Bias, weight.Rows) : null;
        return weight.Pack(0, weight.Rows, bias);
    }

    /// <summary>
    /// A weight as read: the 16-bit patterns when the checkpoint stores exactly the type the weights are kept in (no
    /// float32 detour), float32 values otherwise; packed into <see cref="WeightsType"/> a block of rows at a time.
    /// </summary>
    private sealed record StoredMatrix(string Tensor, string File, float[]? Singles, ushort[]? HalfBits, int Rows, int Columns,
        KeyValueElementType WeightsType)
    {
        // The smallest float32 magnitude that rounds to float16 infinity (65504 + half an ulp of 32).
        private const float Float16Overflow = 65520f;

        /// <param name="bias">[rows], or null for none</param>
        public PackedLinear Pack(int firstRow, int rows, float[]? bias)
        {
            int start = firstRow * Columns, count = rows * Columns;
            if (HalfBits is not null)
                return PackedLinear.Pack(HalfBits.AsSpan(start, count), WeightsType, rows, Columns, bias);
            var values = Singles.AsSpan(start, count);
            if (WeightsType == KeyValueElementType.Float16 &&
                System.Numerics.Tensors.TensorPrimitives.MaxMagnitude<float>(values) is float largest && MathF.Abs(largest) >= Float16Overflow)
                throw new ModelLoadException($"{File}: tensor '{Tensor}' holds {largest}, beyond float16's range (±65504): " +
                    "serve this model with float32 or bfloat16 weights");
            return PackedLinear.Pack(values, rows, Columns, bias, WeightsType);
        }
    }

    /// <summary>A rank-2 float tensor [rows, columns], checked against the expected sizes before any data is read.</summary>
    private static StoredMatrix ReadMatrix(SafetensorsCheckpoint checkpoint, string tensor, int? rows, int? columns,
        KeyValueElementType weightsType)
    {
        var info = checkpoint.Info(tensor);
        if (info.Rank != 2)
            throw ShapeError(checkpoint, tensor, info, $"rank 2 [{Dim(rows)}, {Dim(columns)}]");
        if ((rows is int r && info.Shape[0] != r) || (columns is int c && info.Shape[1] != c))
            throw ShapeError(checkpoint, tensor, info, $"[{rows ?? info.Shape[0]}, {columns ?? info.Shape[1]}]");
        if (info.Shape[0] < 1 || info.Shape[1] < 1 || info.Shape[0] > int.MaxValue || info.Shape[1] > int.MaxValue)
            throw ShapeError(checkpoint, tensor, info, "a weight of 1 to 2³¹−1 rows and columns");
        bool storedAsIs = (weightsType, info.DType) is (KeyValueElementType.Float16, SafetensorsDType.F16)
            or (KeyValueElementType.BFloat16, SafetensorsDType.BF16);
        return new StoredMatrix(tensor, checkpoint.FileOf(tensor),
            storedAsIs ? null : checkpoint.ReadSingles(tensor), storedAsIs ? checkpoint.ReadHalfBits(tensor) : null,
            (int)info.Shape[0], (int)info.Shape[1], weightsType);
    }

    /// <summary>A rank-1 float tensor of exactly <paramref name="length"/> values.</summary>
    private static float[] ReadVector(SafetensorsCheckpoint checkpoint, string tensor, int length)
    {
        var info = checkpoint.Info(tensor);
        if (info.Rank != 1 || info.Shape[0] != length)
            throw ShapeError(checkpoint, tensor, info, $"[{length}]");
        return checkpoint.ReadSingles(tensor);
    }

    private static string Dim(int? size) => size?.ToString() ?? "?";

    private static ModelLoadException ShapeError(SafetensorsCheckpoint checkpoint, string tensor, SafetensorsTensorInfo info,
        string expected) =>
        new($"{checkpoint.FileOf(tensor)}: tensor '{tensor}' has shape {info.ShapeText}, expected {expected}");

    /// <summary>
    /// Opens the weights a cross_attention.json names: a .safetensors file, or a sharded checkpoint's index.json,
    /// inside the model folder.
    /// </summary>
    private static SafetensorsCheckpoint OpenNamedWeights(string folder, string weights)
    {
        if (Path.IsPathRooted(weights) || weights.Split('/', '\\').Contains(".."))
            throw new ModelLoadException($"{CrossAttentionFileName}: weights '{weights}' must be a path inside the model folder");
        string path = Path.Combine(folder, weights);
        if (!File.Exists(path))
            throw new ModelLoadException($"{weights}: not found (named by {CrossAttentionFileName})");
        return SafetensorsCheckpoint.Open(path);
    }
}
