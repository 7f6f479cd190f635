using System.Runtime.CompilerServices;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// The scalar decode attention over the tiled K and row-major V; same steps as the SIMD body, each K/V element widened
/// by <c>ToSingle</c>.
/// </summary>
internal static unsafe class DecodeAttentionScalar
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ComputeHeads<TElement, TStorage>(in DecodeAttentionJob job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        int n = job.QueryCount, m = job.SourceLength, headDim = job.HeadDim, tiles = job.Tiles;
        int inner = job.Heads * headDim;
        const int tileWidth = KeyValueLayout.TileWidth;
        float* scores = DecodeAttentionScratch.Get(m + headDim);   // [m]
        float* acc = scores + m;                                     // [headDim]
        uint* keep = (uint*)job.KeepBits;

        for (int h = headStart; h < headEnd; h++)
        {
            TStorage* keyHead = (TStorage*)job.KeyTiles + (long)h * tiles * headDim * tileWidth;
            TStorage* valueHead = (TStorage*)job.ValueRows + (long)h * m * headDim;
            for (int i = 0; i < n; i++)
            {
                float* q = job.Queries + i * inner + h * headDim;
                float max = float.NegativeInfinity;
                for (int j = 0; j < m; j++)
                {
                    if (keep[j] == 0) { scores[j] = float.NegativeInfinity; continue; }
                    TStorage* k = keyHead + (long)(j / tileWidth) * headDim * tileWidth + j % tileWidth;
                    float dot = 0;
                    for (int d = 0; d < headDim; d++) dot = MathF.FusedMultiplyAdd(q[d], TElement.ToSingle(k[d * tileWidth]), dot);
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
}
