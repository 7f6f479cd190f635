using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// The fused score → softmax → weighted-sum of one decode step: n projected queries attend to one layer's cached K/V.
/// </summary>
/// <remarks>
/// Memory-bound by design: per step every K and V element is streamed once for all n queries. Heads are split
/// across up to maxThreads threads.
/// </remarks>
public static unsafe class DecodeAttention
{
    /// <param name="queries">[n, heads·headDim], already projected</param>
    /// <param name="context">[n, heads·headDim]: concat over heads of P_h V_h</param>
    /// <param name="attention">[heads, n, m] softmax weights (0 at padding), or empty when not wanted</param>
    /// <param name="keyValues">one layer's cached K/V; the view keeps their owner reachable until this returns</param>
    public static void Compute(ReadOnlySpan<float> queries, int n, in KeyValueView keyValues, float scale,
        Span<float> context, Span<float> attention, KernelVariant variant, int maxThreads = 1)
    {
        if (keyValues.IsDefault) throw new ArgumentException("The K/V view is empty.", nameof(keyValues));
        var layout = keyValues.Layout;
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        int inner = layout.Heads * layout.HeadDim;
        if (queries.Length < n * inner) throw new ArgumentException("queries must be [n, heads·headDim].", nameof(queries));
        if (context.Length < n * inner) throw new ArgumentException("context must be [n, heads·headDim].", nameof(context));
        if (!attention.IsEmpty && attention.Length < (long)layout.Heads * n * layout.SourceLength)
            throw new ArgumentException("attention must be [heads, n, m].", nameof(attention));

        fixed (float* q = queries)
        fixed (float* c = context)
        fixed (float* a = attention)
        {
            var job = new DecodeAttentionJob(q, n, keyValues, scale, c, attention.IsEmpty ? null : a,
                KernelVariants.Resolve(variant));
            int threads = Math.Clamp(maxThreads, 1, Math.Min(layout.Heads, Environment.ProcessorCount));
            if (threads == 1) RunHeads(job, 0, layout.Heads);
            else
            {
                // The same workers as the projections, so a step never has two pools spinning for one spare core.
                var heads = new HeadsBody(job);
                KernelParallel.For(layout.Heads, threads, ref heads, work: (long)n * layout.SourceLength * inner);
            }
        }
        GC.KeepAlive(keyValues.Owner); // the job holds raw pointers into the owner's pinned buffers
    }

    /// <summary>Heads [headStart, headEnd) of the job, on the calling thread.</summary>
    internal static void RunHeads(in DecodeAttentionJob job, int headStart, int headEnd)
    {
        switch (job.ElementType) // validated by the layout
        {
            case KeyValueElementType.Float16 when job.AllFinite:
                RunHeads<FiniteFloat16Element, ushort>(job, headStart, headEnd);   // bit for bit the full read on finite values
                break;
            case KeyValueElementType.Float16:
                RunHeads<Float16Element, ushort>(job, headStart, headEnd);
                break;
            case KeyValueElementType.BFloat16:
                RunHeads<BFloat16Element, ushort>(job, headStart, headEnd);
                break;
            default:
                RunHeads<Float32Element, float>(job, headStart, headEnd);
                break;
        }
    }

    private static void RunHeads<TElement, TStorage>(in DecodeAttentionJob job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        switch (job.Variant) // resolved by the caller: one the CPU supports
        {
            case KernelVariant.Vector512:
                DecodeAttentionVectorized.ComputeHeads<TElement, TStorage, Lanes512, Vector512<float>>(job, headStart, headEnd);
                break;
            case KernelVariant.Vector256:
                DecodeAttentionVectorized.ComputeHeads<TElement, TStorage, Lanes256, Vector256<float>>(job, headStart, headEnd);
                break;
            case KernelVariant.Vector128:
                DecodeAttentionVectorized.ComputeHeads<TElement, TStorage, Lanes128, Vector128<float>>(job, headStart, headEnd);
                break;
            default:
                DecodeAttentionScalar.ComputeHeads<TElement, TStorage>(job, headStart, headEnd);
                break;
        }
    }
}

/// <summary>One head per loop index: heads are claimed one at a time, so a late worker only takes what is left.</summary>
internal readonly struct HeadsBody(DecodeAttentionJob job) : IParallelBody
{
    public void Invoke(int index) => DecodeAttention.RunHeads(job, index, index + 1);
}

/// <summary>One decode attention call as raw pointers, so it can be handed to worker threads.</summary>
internal readonly unsafe struct DecodeAttentionJob
{
    public DecodeAttentionJob(float* queries, int queryCount, in KeyValueView keyValues, float scale, float* context,
        float* attention, KernelVariant variant)
    {
        var layout = keyValues.Layout;
        Queries = queries;
        QueryCount = queryCount;
        KeyTiles = keyValues.Keys;
        ValueRows = keyValues.Values;
        ElementType = layout.ElementType;
        AllFinite = keyValues.AllFinite;
        KeepBits = (float*)keyValues.Keep;
        Heads = layout.Heads;
        SourceLength = layout.SourceLength;
        HeadDim = layout.HeadDim;
        Tiles = layout.Tiles;
        Scale = scale;
        Context = context;
        Attention = attention;
        Variant = variant;
    }

    public float* Queries { get; }       // [n, heads·headDim]
    public int QueryCount { get; }
    public byte* KeyTiles { get; }       // [heads, tiles, headDim, 16] of ElementType
    public byte* ValueRows { get; }      // [heads, m, headDim] of ElementType
    public KeyValueElementType ElementType { get; }
    public bool AllFinite { get; }               // no ±Inf or NaN stored: the cheaper float16 read is exact
    public float* KeepBits { get; }      // [tiles·16]
    public int Heads { get; }
    public int SourceLength { get; }
    public int HeadDim { get; }
    public int Tiles { get; }
    public float Scale { get; }
    public float* Context { get; }       // [n, heads·headDim]
    public float* Attention { get; }     // [heads, n, m] or null
    public KernelVariant Variant { get; }
}
