using CrossAttention.Core.Engine;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// The fused score → softmax → weighted-sum of one decode step: n projected queries attend to one layer's cached K/V.
/// </summary>
public static class DecodeAttention
{
    /// <param name="queries">[n, heads·headDim], already projected</param>
    /// <param name="context">[n, heads·headDim]: concat over heads of P_h V_h</param>
    /// <param name="attention">[heads, n, m] softmax weights (0 at padding), or empty when not wanted</param>
    public static void Compute(ReadOnlySpan<float> queries, int n, KeyValueCache cache, float scale,
        Span<float> context, Span<float> attention, KernelVariant variant, int maxThreads = 1)
    {
        int inner = cache.Heads * cache.HeadDim;
        if (queries.Length < n * inner) throw new ArgumentException("queries must be [n, heads·headDim].", nameof(queries));
        if (context.Length < n * inner) throw new ArgumentException("context must be [n, heads·headDim].", nameof(context));
        if (!attention.IsEmpty && attention.Length < cache.Heads * n * cache.SourceLength)
            throw new ArgumentException("attention must be [heads, n, m].", nameof(attention));
        AttentionReference.Compute(queries, n, cache.Keys, cache.Values, cache.Heads, cache.SourceLength, cache.HeadDim,
            cache.Mask, scale, context, attention);
    }
}
