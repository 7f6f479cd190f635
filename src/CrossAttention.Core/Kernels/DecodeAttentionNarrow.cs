using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// Prototype of the decode attention over K/V stored as float32, bfloat16 or float16 (<see cref="IKeyValueElement{TStorage}"/>):
/// every K and V element is widened in registers as it is loaded, so a step streams half the bytes for the 16-bit
/// formats and never makes a float32 copy. It works on its own buffers in the cache's layouts, until the cache stores
/// narrow types; then its loads belong in the main kernel body.
/// </summary>
/// <remarks>
/// Same steps as <see cref="DecodeAttentionVectorized"/>: raw scores from the K tiles (groups of four strips, reused
/// from L1 by every query), an unnormalised softmax in scratch, the weighted sum over V rows, and a final scaling by
/// 1/Σ. Simpler than it in one respect: each query streams the head's V rows on its own (no blocking across queries).
/// </remarks>
internal static unsafe class DecodeAttentionNarrow
{
    /// <param name="queries">[n, heads·headDim], already projected</param>
    /// <param name="keyTiles">[heads, tiles, headDim, 16], tiles = ⌈m / 16⌉, positions past m zero</param>
    /// <param name="valueRows">[heads, m, headDim]</param>
    /// <param name="keepBits">[tiles·16] float bit patterns: all ones where a position is kept, 0 at padding and past m</param>
    /// <param name="context">[n, heads·headDim]: concat over heads of P_h V_h</param>
    /// <param name="attention">[heads, n, m] softmax weights (0 at padding), or empty when not wanted</param>
    public static void Compute<TElement, TStorage>(ReadOnlySpan<float> queries, int n, ReadOnlySpan<TStorage> keyTiles,
        ReadOnlySpan<TStorage> valueRows, ReadOnlySpan<float> keepBits, int heads, int sourceLength, int headDim,
        float scale, Span<float> context, Span<float> attention, KernelVariant variant, int maxThreads = 1)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        int tiles = (sourceLength + TileWidth - 1) / TileWidth;
        int inner = heads * headDim;
        if (queries.Length < n * inner) ThrowShape(nameof(queries), "[n, heads·headDim]");
        if (keyTiles.Length < (long)heads * tiles * headDim * TileWidth) ThrowShape(nameof(keyTiles), "[heads, tiles, headDim, 16]");
        if (valueRows.Length < (long)heads * sourceLength * headDim) ThrowShape(nameof(valueRows), "[heads, m, headDim]");
        if (keepBits.Length < tiles * TileWidth) ThrowShape(nameof(keepBits), "[tiles·16]");
        if (context.Length < n * inner) ThrowShape(nameof(context), "[n, heads·headDim]");
        if (!attention.IsEmpty && attention.Length < (long)heads * n * sourceLength) ThrowShape(nameof(attention), "[heads, n, m]");

        fixed (float* q = queries)
        fixed (TStorage* k = keyTiles)
        fixed (TStorage* v = valueRows)
        fixed (float* keep = keepBits)
        fixed (float* c = context)
        fixed (float* a = attention)
        {
            var job = new NarrowDecodeJob<TStorage>(q, n, k, v, keep, heads, sourceLength, headDim, tiles, scale, c,
                attention.IsEmpty ? null : a, variant);
            int threads = Math.Clamp(maxThreads, 1, Math.Min(heads, Environment.ProcessorCount));
            if (threads == 1) RunHeads<TElement, TStorage>(job, 0, heads);
            else
            {
                var body = new NarrowHeadsBody<TElement, TStorage>(job);
                KernelParallel.For(heads, threads, ref body);
            }
        }
    }

    private const int TileWidth = 16;

    internal static void RunHeads<TElement, TStorage>(in NarrowDecodeJob<TStorage> job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        switch (job.Variant)
        {
            case KernelVariant.Vector512 when Vector512.IsHardwareAccelerated:
                ComputeHeads<TElement, TStorage, Lanes512, Vector512<float>>(job, headStart, headEnd);
                break;
            case KernelVariant.Vector512 or KernelVariant.Vector256 when Vector256.IsHardwareAccelerated:
                ComputeHeads<TElement, TStorage, Lanes256, Vector256<float>>(job, headStart, headEnd);
                break;
            case KernelVariant.Vector512 or KernelVariant.Vector256 or KernelVariant.Vector128
                when Vector128.IsHardwareAccelerated:
                ComputeHeads<TElement, TStorage, Lanes128, Vector128<float>>(job, headStart, headEnd);
                break;
            default:
                ComputeHeadsScalar<TElement, TStorage>(job, headStart, headEnd);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeHeads<TElement, TStorage, TLanes, TVector>(in NarrowDecodeJob<TStorage> job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int n = job.QueryCount, m = job.SourceLength, headDim = job.HeadDim, tiles = job.Tiles;
        int paddedLength = tiles * TileWidth;
        int inner = job.Heads * headDim;
        float* weights = DecodeAttentionScratch.Get(n * paddedLength);   // [n, paddedLength]

        for (int h = headStart; h < headEnd; h++)
        {
            TStorage* keyHead = job.KeyTiles + (long)h * tiles * headDim * TileWidth;
            TStorage* valueHead = job.ValueRows + (long)h * m * headDim;
            Scores<TElement, TStorage, TLanes, TVector>(job.Queries + h * headDim, inner, n, keyHead, tiles, headDim, weights, paddedLength);
            for (int i = 0; i < n; i++)
            {
                float* p = weights + i * paddedLength;
                float inverseSum = Softmax<TLanes, TVector>(p, job.KeepBits, paddedLength, job.Scale);
                WeightedSum<TElement, TStorage, TLanes, TVector>(p, valueHead, m, headDim, inverseSum, job.Context + i * inner + h * headDim);
                if (job.Attention != null)
                    ScaleRow<TLanes, TVector>(p, inverseSum, job.Attention + ((long)h * n + i) * m, m);
            }
        }
    }

    // weights[i, j] = q_i · K_j over the padded length. A strip is TLanes.Count consecutive positions of one tile;
    // each group of four is read from memory by the first query and from L1 by the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores<TElement, TStorage, TLanes, TVector>(float* queries, int queryStride, int n,
        TStorage* keyHead, int tiles, int headDim, float* weights, int paddedLength)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int width = TLanes.Count;
        int stripsPerTile = TileWidth / width;
        int strips = tiles * stripsPerTile;
        long tileElements = (long)headDim * TileWidth;
        int strip = 0;
        for (; strip + 4 <= strips; strip += 4)
        {
            TStorage* k0 = keyHead + (strip / stripsPerTile) * tileElements + strip % stripsPerTile * width;
            TStorage* k1 = keyHead + ((strip + 1) / stripsPerTile) * tileElements + (strip + 1) % stripsPerTile * width;
            TStorage* k2 = keyHead + ((strip + 2) / stripsPerTile) * tileElements + (strip + 2) % stripsPerTile * width;
            TStorage* k3 = keyHead + ((strip + 3) / stripsPerTile) * tileElements + (strip + 3) % stripsPerTile * width;
            for (int i = 0; i < n; i++)
            {
                float* q = queries + i * queryStride;
                TVector a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
                for (int d = 0; d < headDim; d++)
                {
                    int row = d * TileWidth;
                    TVector x = TLanes.Broadcast(q[d]);
                    a0 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k0 + row), x, a0);
                    a1 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k1 + row), x, a1);
                    a2 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k2 + row), x, a2);
                    a3 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k3 + row), x, a3);
                }
                float* output = weights + i * paddedLength + strip * width;
                TLanes.Store(a0, output); TLanes.Store(a1, output + width);
                TLanes.Store(a2, output + 2 * width); TLanes.Store(a3, output + 3 * width);
            }
        }
        for (; strip < strips; strip++)
        {
            TStorage* k = keyHead + (strip / stripsPerTile) * tileElements + strip % stripsPerTile * width;
            for (int i = 0; i < n; i++)
            {
                float* q = queries + i * queryStride;
                TVector a = TLanes.Zero;
                for (int d = 0; d < headDim; d++)
                    a = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k + d * TileWidth), TLanes.Broadcast(q[d]), a);
                TLanes.Store(a, weights + i * paddedLength + strip * width);
            }
        }
    }

    // In place: s ← exp(scale·s − max) at kept positions, exactly 0 at padding and past m. Returns 1 / Σ.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Softmax<TLanes, TVector>(float* scores, float* keepBits, int paddedLength, float scale)
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector scaleVector = TLanes.Broadcast(scale);
        TVector negativeInfinity = TLanes.Broadcast(float.NegativeInfinity);
        TVector max = negativeInfinity;
        for (int j = 0; j < paddedLength; j += w)
        {
            TVector s = TLanes.Select(TLanes.Load(keepBits + j), TLanes.Multiply(TLanes.Load(scores + j), scaleVector), negativeInfinity);
            TLanes.Store(s, scores + j);
            max = TLanes.Max(max, s);
        }
        TVector maxVector = TLanes.Broadcast(TLanes.MaxAcross(max));
        TVector sum = TLanes.Zero;
        for (int j = 0; j < paddedLength; j += w)
        {
            TVector p = TLanes.And(TLanes.Exp(TLanes.Subtract(TLanes.Load(scores + j), maxVector)), TLanes.Load(keepBits + j));
            TLanes.Store(p, scores + j);
            sum = TLanes.Add(sum, p);
        }
        return 1f / TLanes.SumAcross(sum);
    }

    // output[:] = inverseSum · Σ_j p[j] · V[j, :]: groups of four vectors of the head dimension in registers, then
    // single vectors, then the last headDim % Count elements one by one (so no load reads past a row).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSum<TElement, TStorage, TLanes, TVector>(float* p, TStorage* valueHead, int m, int headDim,
        float inverseSum, float* output)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector inverse = TLanes.Broadcast(inverseSum);
        int c = 0;
        for (; c + 4 * w <= headDim; c += 4 * w)
        {
            TVector a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
            TStorage* row = valueHead + c;
            for (int j = 0; j < m; j++, row += headDim)
            {
                TVector x = TLanes.Broadcast(p[j]);
                a0 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row), x, a0);
                a1 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + w), x, a1);
                a2 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 2 * w), x, a2);
                a3 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 3 * w), x, a3);
            }
            TLanes.Store(TLanes.Multiply(a0, inverse), output + c);
            TLanes.Store(TLanes.Multiply(a1, inverse), output + c + w);
            TLanes.Store(TLanes.Multiply(a2, inverse), output + c + 2 * w);
            TLanes.Store(TLanes.Multiply(a3, inverse), output + c + 3 * w);
        }
        for (; c + w <= headDim; c += w)
        {
            TVector a = TLanes.Zero;
            TStorage* row = valueHead + c;
            for (int j = 0; j < m; j++, row += headDim)
                a = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row), TLanes.Broadcast(p[j]), a);
            TLanes.Store(TLanes.Multiply(a, inverse), output + c);
        }
        for (; c < headDim; c++)
        {
            float a = 0;
            TStorage* element = valueHead + c;
            for (int j = 0; j < m; j++, element += headDim) a = MathF.FusedMultiplyAdd(p[j], TElement.ToSingle(*element), a);
            output[c] = a * inverseSum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleRow<TLanes, TVector>(float* source, float factor, float* destination, int length)
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector f = TLanes.Broadcast(factor);
        int k = 0;
        for (; k + w <= length; k += w) TLanes.Store(TLanes.Multiply(TLanes.Load(source + k), f), destination + k);
        for (; k < length; k++) destination[k] = source[k] * factor;
    }

    /// <summary>The scalar variant: the same steps one element at a time, each widened by <c>ToSingle</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeHeadsScalar<TElement, TStorage>(in NarrowDecodeJob<TStorage> job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        int n = job.QueryCount, m = job.SourceLength, headDim = job.HeadDim, tiles = job.Tiles;
        int inner = job.Heads * headDim;
        float* scores = DecodeAttentionScratch.Get(m + headDim);   // [m]
        float* acc = scores + m;                                     // [headDim]
        uint* keep = (uint*)job.KeepBits;
        for (int h = headStart; h < headEnd; h++)
        {
            TStorage* keyHead = job.KeyTiles + (long)h * tiles * headDim * TileWidth;
            TStorage* valueHead = job.ValueRows + (long)h * m * headDim;
            for (int i = 0; i < n; i++)
            {
                float* q = job.Queries + i * inner + h * headDim;
                float max = float.NegativeInfinity;
                for (int j = 0; j < m; j++)
                {
                    if (keep[j] == 0) continue;
                    TStorage* k = keyHead + (long)(j / TileWidth) * headDim * TileWidth + j % TileWidth;
                    float dot = 0;
                    for (int d = 0; d < headDim; d++) dot = MathF.FusedMultiplyAdd(q[d], TElement.ToSingle(k[d * TileWidth]), dot);
                    scores[j] = dot * job.Scale;
                    max = MathF.Max(max, scores[j]);
                }
                float sum = 0;
                for (int j = 0; j < m; j++)
                {
                    scores[j] = keep[j] == 0 ? 0f : MathF.Exp(scores[j] - max);
                    sum += scores[j];
                }
                float inverse = 1f / sum;
                new Span<float>(acc, headDim).Clear();
                for (int j = 0; j < m; j++)
                {
                    float p = scores[j];
                    if (p == 0f) continue;
                    TStorage* row = valueHead + (long)j * headDim;
                    for (int d = 0; d < headDim; d++) acc[d] = MathF.FusedMultiplyAdd(p, TElement.ToSingle(row[d]), acc[d]);
                }
                float* context = job.Context + i * inner + h * headDim;
                for (int d = 0; d < headDim; d++) context[d] = acc[d] * inverse;
                if (job.Attention != null)
                {
                    float* attention = job.Attention + ((long)h * n + i) * m;
                    for (int j = 0; j < m; j++) attention[j] = scores[j] * inverse;
                }
            }
        }
    }

    [DoesNotReturn]
    private static void ThrowShape(string name, string shape) =>
        throw new ArgumentException($"{name} must be {shape}.", name);
}

/// <summary>One head per loop index, as the float32 kernel splits its heads.</summary>
internal readonly struct NarrowHeadsBody<TElement, TStorage>(NarrowDecodeJob<TStorage> job) : IParallelBody
    where TElement : struct, IKeyValueElement<TStorage>
    where TStorage : unmanaged
{
    public void Invoke(int index) => DecodeAttentionNarrow.RunHeads<TElement, TStorage>(job, index, index + 1);
}

/// <summary>One narrow decode attention call as raw pointers, so it can be handed to worker threads.</summary>
internal readonly unsafe struct NarrowDecodeJob<TStorage>(float* queries, int queryCount, TStorage* keyTiles,
    TStorage* valueRows, float* keepBits, int heads, int sourceLength, int headDim, int tiles, float scale,
    float* context, float* attention, KernelVariant variant)
    where TStorage : unmanaged
{
    public float* Queries { get; } = queries;          // [n, heads·headDim]
    public int QueryCount { get; } = queryCount;
    public TStorage* KeyTiles { get; } = keyTiles;     // [heads, tiles, headDim, 16]
    public TStorage* ValueRows { get; } = valueRows;   // [heads, m, headDim]
    public float* KeepBits { get; } = keepBits;        // [tiles·16]
    public int Heads { get; } = heads;
    public int SourceLength { get; } = sourceLength;
    public int HeadDim { get; } = headDim;
    public int Tiles { get; } = tiles;
    public float Scale { get; } = scale;
    public float* Context { get; } = context;          // [n, heads·headDim]
    public float* Attention { get; } = attention;      // [heads, n, m] or null
    public KernelVariant Variant { get; } = variant;
}
