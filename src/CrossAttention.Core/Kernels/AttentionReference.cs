namespace CrossAttention.Core.Kernels;

/// <summary>
/// Plain softmax(scale·QKᵀ)V per head in double precision, over the logical layouts; the yardstick for the fused
/// decode kernel.
/// </summary>
public static class AttentionReference
{
    /// <param name="queries">[n, heads·headDim] (already projected)</param>
    /// <param name="keys">[heads, m, headDim]</param>
    /// <param name="values">[heads, m, headDim]</param>
    /// <param name="mask">[m], 1 keep / 0 padding; empty means keep all</param>
    /// <param name="context">[n, heads·headDim]: concat over heads of P_h V_h</param>
    /// <param name="attention">[heads, n, m], or empty when not wanted</param>
    public static void Compute(ReadOnlySpan<float> queries, int n, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int heads, int sourceLength, int headDim, ReadOnlySpan<byte> mask, float scale,
        Span<float> context, Span<float> attention)
    {
        int inner = heads * headDim;
        var scores = new double[sourceLength];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> q = queries.Slice(i * inner + h * headDim, headDim);
                double max = double.NegativeInfinity;
                for (int j = 0; j < sourceLength; j++)
                {
                    if (!mask.IsEmpty && mask[j] == 0) { scores[j] = double.NegativeInfinity; continue; }
                    ReadOnlySpan<float> k = keys.Slice((h * sourceLength + j) * headDim, headDim);
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += (double)q[d] * k[d];
                    scores[j] = dot * scale;
                    max = Math.Max(max, scores[j]);
                }
                if (double.IsNegativeInfinity(max))
                    throw new ArgumentException("Every source position is padding; attention is undefined.", nameof(mask));
                double sum = 0;
                for (int j = 0; j < sourceLength; j++)
                {
                    scores[j] = double.IsNegativeInfinity(scores[j]) ? 0 : Math.Exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j < sourceLength; j++) scores[j] /= sum;
                if (!attention.IsEmpty)
                    for (int j = 0; j < sourceLength; j++) attention[(h * n + i) * sourceLength + j] = (float)scores[j];
                for (int d = 0; d < headDim; d++)
                {
                    double acc = 0;
                    for (int j = 0; j < sourceLength; j++)
                        acc += scores[j] * values[(h * sourceLength + j) * headDim + d];
                    context[i * inner + h * headDim + d] = (float)acc;
                }
            }
        }
    }
}
