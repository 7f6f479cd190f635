using System.Buffers;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Models;

/// <summary>
/// One decoder layer's cross-attention: Q from the target, K/V from the source, h heads of headDim, output
/// projection back to the query size. Weights are packed once here; the layer is immutable and thread-safe.
/// </summary>
public sealed class CrossAttentionLayer
{
    private readonly PackedLinear _query;
    private readonly PackedLinear _key;
    private readonly PackedLinear _value;
    private readonly PackedLinear _output;

    /// <param name="weightsType">what the four weight matrices are stored as (biases stay float32)</param>
    public CrossAttentionLayer(LinearWeights query, LinearWeights key, LinearWeights value, LinearWeights output,
        int heads, float? scale = null, KeyValueElementType weightsType = KeyValueElementType.Float32)
        : this(Pack(query, weightsType), Pack(key, weightsType), Pack(value, weightsType), Pack(output, weightsType), heads, scale)
    {
    }

    /// <summary>From projections already packed (all four of one element type), e.g. straight from 16-bit checkpoint data.</summary>
    internal CrossAttentionLayer(PackedLinear query, PackedLinear key, PackedLinear value, PackedLinear output,
        int heads, float? scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        if (key.ElementType != query.ElementType || value.ElementType != query.ElementType || output.ElementType != query.ElementType)
            throw new ArgumentException("q, k, v and output weights must be stored as one element type.");
        int inner = query.OutFeatures;
        if (inner % heads != 0)
            throw new ArgumentException($"q projection has {inner} outputs, not a multiple of {heads} heads.");
        if (key.OutFeatures != inner || value.OutFeatures != inner)
            throw new ArgumentException($"k and v projections must have {inner} outputs like q (k: {key.OutFeatures}, v: {value.OutFeatures}).");
        if (key.InFeatures != value.InFeatures)
            throw new ArgumentException($"k and v projections must read the same source size (k: {key.InFeatures}, v: {value.InFeatures}).");
        if (output.InFeatures != inner || output.OutFeatures != query.InFeatures)
            throw new ArgumentException($"output projection must be [{query.InFeatures}, {inner}], is [{output.OutFeatures}, {output.InFeatures}].");

        Heads = heads;
        HeadDim = inner / heads;
        QueryDim = query.InFeatures;
        SourceDim = key.InFeatures;
        Scale = scale ?? 1f / MathF.Sqrt(HeadDim);
        Biases = new ProjectionBiases(query.HasBias, key.HasBias, value.HasBias, output.HasBias);
        _query = query;
        _key = key;
        _value = value;
        _output = output;
    }

    public int Heads { get; }
    public int HeadDim { get; }
    public int InnerDim => Heads * HeadDim;
    public int QueryDim { get; }
    public int SourceDim { get; }
    public float Scale { get; }
    public ProjectionBiases Biases { get; }

    /// <summary>What the weights are stored as (the kernels widen them in registers); biases are float32.</summary>
    public KeyValueElementType WeightsType => _query.ElementType;

    /// <summary>Bytes of the packed weights this layer holds.</summary>
    public long WeightBytes => _query.Bytes + _key.Bytes + _value.Bytes + _output.Bytes;

    /// <summary>K = S·Wkᵀ + bk and V = S·Wvᵀ + bv for one source, as a cache the decode step reads.</summary>
    /// <param name="source">[m, sourceDim]</param>
    /// <param name="mask">[m], 1 keep / 0 padding; empty keeps all</param>
    /// <param name="pool">where the cache's buffers come from and go back to; null allocates fresh ones</param>
    /// <param name="elementType">what the cache stores K and V as (projected in float32, then narrowed)</param>
    public KeyValueCache Encode(ReadOnlySpan<float> source, int sourceLength, ReadOnlySpan<byte> mask, ComputeOptions options,
        KeyValueBufferPool? pool = null, KeyValueElementType elementType = KeyValueElementType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        if (source.Length != sourceLength * SourceDim)
            throw new ArgumentException($"source must be [{sourceLength}, {SourceDim}].", nameof(source));
        int size = sourceLength * InnerDim;
        float[] k = ArrayPool<float>.Shared.Rent(size);
        float[] v = ArrayPool<float>.Shared.Rent(size);
        try
        {
            _key.Apply(source, sourceLength, k, options.Variant, options.MaxThreads);   // [m, inner]
            _value.Apply(source, sourceLength, v, options.Variant, options.MaxThreads); // [m, inner]
            return KeyValueCache.Create(k.AsSpan(0, size), v.AsSpan(0, size), sourceLength, Heads, HeadDim, mask, pool,
                elementType, options.MaxThreads);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(k);
            ArrayPool<float>.Shared.Return(v);
        }
    }

    /// <summary>One decode step: Q = X·Wqᵀ + bq, softmax(scale·QKᵀ)V per head, then the output projection.</summary>
    /// <param name="queries">[n, queryDim]</param>
    /// <param name="output">[n, queryDim]</param>
    /// <param name="attention">[heads, n, m], or empty when not wanted</param>
    public void Decode(KeyValueCache cache, ReadOnlySpan<float> queries, int n, Span<float> output, Span<float> attention,
        ComputeOptions options)
    {
        CheckStep(cache, n, queries.Length, output.Length);
        int size = n * InnerDim;
        float[] q = ArrayPool<float>.Shared.Rent(size);
        float[] context = ArrayPool<float>.Shared.Rent(size);
        try
        {
            _query.Apply(queries, n, q, options.Variant, options.MaxThreads);                       // [n, inner]
            DecodeAttention.Compute(q.AsSpan(0, size), n, cache.View, Scale, context.AsSpan(0, size), attention,
                options.Variant, options.MaxThreads);                                                  // [n, inner]
            _output.Apply(context.AsSpan(0, size), n, output, options.Variant, options.MaxThreads);  // [n, queryDim]
        }
        finally
        {
            ArrayPool<float>.Shared.Return(q);
            ArrayPool<float>.Shared.Return(context);
        }
    }

    /// <summary>
    /// Several decode steps of this layer at once, each as if decoded alone: the q and output projections run as one
    /// matrix product over all their rows (the weights are read once, not once per step), and consecutive steps on the
    /// same cache that do not want the weights attend in one pass (its K/V are read once for all of them).
    /// </summary>
    /// <remarks>Put steps that share a cache next to each other; their order is otherwise free.</remarks>
    public void DecodeBatch<TStep>(IReadOnlyList<TStep> steps, ComputeOptions options) where TStep : IDecodeStep
    {
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 1)
        {
            var step = steps[0];
            Decode(step.Cache, step.Queries, step.Rows, step.Output, step.Attention, options);
            return;
        }
        int rows = 0;
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            CheckStep(step.Cache, step.Rows, step.Queries.Length, step.Output.Length, i);
            rows = checked(rows + step.Rows);
        }

        int inner = InnerDim;
        float[] x = ArrayPool<float>.Shared.Rent(rows * QueryDim);   // [rows, queryDim], every step's queries
        float[] q = ArrayPool<float>.Shared.Rent(rows * inner);      // [rows, inner]
        float[] context = ArrayPool<float>.Shared.Rent(rows * inner);
        float[] y = ArrayPool<float>.Shared.Rent(rows * QueryDim);   // [rows, queryDim]
        try
        {
            for (int i = 0, row = 0; i < steps.Count; row += steps[i].Rows, i++)
                steps[i].Queries.CopyTo(x.AsSpan(row * QueryDim));
            _query.Apply(x.AsSpan(0, rows * QueryDim), rows, q, options.Variant, options.MaxThreads);

            for (int first = 0, row = 0; first < steps.Count;)
            {
                var cache = steps[first].Cache;
                var attention = steps[first].Attention;
                int last = first, runRows = steps[first].Rows;
                // The kernel's weights come out [heads, n, m] for one n, so only steps without them share a pass.
                while (attention.IsEmpty && last + 1 < steps.Count && ReferenceEquals(steps[last + 1].Cache, cache)
                       && steps[last + 1].Attention.IsEmpty)
                    runRows += steps[++last].Rows;
                DecodeAttention.Compute(q.AsSpan(row * inner, runRows * inner), runRows, cache.View, Scale,
                    context.AsSpan(row * inner, runRows * inner), attention, options.Variant, options.MaxThreads);
                row += runRows;
                first = last + 1;
            }

            _output.Apply(context.AsSpan(0, rows * inner), rows, y, options.Variant, options.MaxThreads);
            for (int i = 0, row = 0; i < steps.Count; row += steps[i].Rows, i++)
                y.AsSpan(row * QueryDim, steps[i].Rows * QueryDim).CopyTo(steps[i].Output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(x);
            ArrayPool<float>.Shared.Return(q);
            ArrayPool<float>.Shared.Return(context);
            ArrayPool<float>.Shared.Return(y);
        }
    }

    /// <summary>
    /// Throws unless n ≥ 1, the cache was made by a layer of this shape, and the queries and output hold [n, queryDim];
    /// <paramref name="step"/> names the step of a batch (−1: the arguments of a single decode).
    /// </summary>
    private void CheckStep(KeyValueCache cache, int n, int queriesLength, int outputLength, int step = -1)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(step < 0 ? "n" : "steps", n, StepMessage(step, "n must be at least 1."));
        if (cache.Heads != Heads || cache.HeadDim != HeadDim)
            throw new ArgumentException(StepMessage(step, "the cache was not made by a layer of this shape."), step < 0 ? "cache" : "steps");
        if (queriesLength != n * QueryDim)
            throw new ArgumentException(StepMessage(step, $"queries must be [{n}, {QueryDim}]."), step < 0 ? "queries" : "steps");
        if (outputLength < n * QueryDim)
            throw new ArgumentException(StepMessage(step, $"output must be [{n}, {QueryDim}]."), step < 0 ? "output" : "steps");
    }

    private static string StepMessage(int step, string message) => step < 0 ? message : $"Step {step}: {message}";

    private static PackedLinear Pack(LinearWeights w, KeyValueElementType weightsType) =>
        PackedLinear.Pack(w.Weight, w.OutFeatures, w.InFeatures, w.Bias, weightsType);
}

/// <summary>Which projections carry a bias.</summary>
public readonly record struct ProjectionBiases(bool Q, bool K, bool V, bool O);
