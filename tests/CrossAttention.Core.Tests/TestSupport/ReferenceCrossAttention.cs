using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>
/// The cross-attention a layer should compute, straight from the weights a test wrote: the reference linear,
/// the reference attention, and nothing of the engine's packing or caching.
/// </summary>
internal static class ReferenceCrossAttention
{
    /// <param name="source">[m, sourceDim]</param>
    /// <param name="queries">[n, queryDim]</param>
    /// <param name="mask">[m] 1 keep / 0 pad, or empty</param>
    /// <returns>output [n, queryDim] and attention [heads, n, m]</returns>
    public static (float[] Output, float[] Attention) Compute(LinearWeights q, LinearWeights k, LinearWeights v,
        LinearWeights o, int heads, float scale, float[] source, int m, float[] queries, int n, byte[] mask)
    {
        int inner = q.OutFeatures, headDim = inner / heads;
        float[] Project(LinearWeights w, float[] x, int rows)
        {
            var y = new float[rows * w.OutFeatures];
            LinearReference.Apply(x, rows, w.InFeatures, w.Weight, w.OutFeatures, w.Bias ?? [], y);
            return y;
        }
        float[] projectedQ = Project(q, queries, n);        // [n, inner]
        float[] keys = ToHeads(Project(k, source, m), m, heads, headDim);   // [heads, m, headDim]
        float[] values = ToHeads(Project(v, source, m), m, heads, headDim); // [heads, m, headDim]
        var context = new float[n * inner];
        var attention = new float[heads * n * m];
        AttentionReference.Compute(projectedQ, n, keys, values, heads, m, headDim, mask, scale, context, attention);
        return (Project(o, context, n), attention);
    }

    // [m, heads·headDim] → [heads, m, headDim]
    private static float[] ToHeads(float[] rows, int m, int heads, int headDim)
    {
        var result = new float[rows.Length];
        for (int j = 0; j < m; j++)
            for (int h = 0; h < heads; h++)
                rows.AsSpan(j * heads * headDim + h * headDim, headDim).CopyTo(result.AsSpan((h * m + j) * headDim, headDim));
        return result;
    }
}
