using System.Runtime.CompilerServices;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// The SIMD decode attention, one body for every vector width and every K/V element type (each K/V load widens to
/// float32 lanes in registers, so a float16 or bfloat16 cache is streamed at its own width, never copied). Per head:
/// raw scores for all n queries from the K tiles (queries are blocked inside each group of four strips, so a group is fetched from memory once and reused
/// from L1 by every query), an unnormalised softmax per query in scratch, one pass over the V rows (blocked the same
/// way), and a final scaling by 1/Σ of the context and, when requested, of the attention row.
/// </summary>
internal static unsafe class DecodeAttentionVectorized
{
    /// <summary>Bytes of V rows the weighted sum keeps hot in L1 while it cycles through the queries.</summary>
    private const int ValueBlockBytes = 16 * 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ComputeHeads<TElement, TStorage, TLanes, TVector>(in DecodeAttentionJob job, int headStart, int headEnd)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int n = job.QueryCount, m = job.SourceLength, headDim = job.HeadDim, tiles = job.Tiles;
        int paddedLength = tiles * KeyValueLayout.TileWidth;
        int chunks = (headDim + TLanes.Count - 1) / TLanes.Count;
        int paddedHeadDim = chunks * TLanes.Count;
        int inner = job.Heads * headDim;

        float* scratch = DecodeAttentionScratch.Get(n * paddedLength + 2 * n * paddedHeadDim + n);
        float* weights = scratch;                                   // [n, paddedLength]
        float* accumulators = weights + n * paddedLength;           // [n, paddedHeadDim]
        float* oddPartials = accumulators + n * paddedHeadDim;      // [n, paddedHeadDim]
        float* inverseSums = oddPartials + n * paddedHeadDim;       // [n]

        for (int h = headStart; h < headEnd; h++)
        {
            TStorage* keyHead = (TStorage*)job.KeyTiles + (long)h * tiles * headDim * KeyValueLayout.TileWidth;
            TStorage* valueHead = (TStorage*)job.ValueRows + (long)h * m * headDim;
            float* queryHead = job.Queries + h * headDim;

            Scores<TElement, TStorage, TLanes, TVector>(queryHead, inner, n, keyHead, tiles, headDim, weights, paddedLength);
            for (int i = 0; i < n; i++)
                inverseSums[i] = Softmax<TLanes, TVector>(weights + i * paddedLength, job.KeepBits, paddedLength, job.Scale);
            WeightedSum<TElement, TStorage, TLanes, TVector>(weights, paddedLength, n, valueHead, m, headDim, chunks, accumulators,
                oddPartials, paddedHeadDim);

            for (int i = 0; i < n; i++)
            {
                Scale<TLanes, TVector>(accumulators + i * paddedHeadDim, inverseSums[i], job.Context + i * inner + h * headDim, headDim);
                if (job.Attention != null)
                    Scale<TLanes, TVector>(weights + i * paddedLength, inverseSums[i], job.Attention + ((long)h * n + i) * m, m);
            }
        }
    }

    // weights[i, j] = q_i · K_j for every j of the padded length. Strips are TLanes.Count consecutive positions; a
    // K tile holds 16 / Count of them. Groups of four strips are loaded from memory once and reused by every query.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores<TElement, TStorage, TLanes, TVector>(float* queries, int queryStride, int n, TStorage* keyHead, int tiles,
        int headDim, float* weights, int paddedLength)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int width = TLanes.Count;
        int stripsPerTile = KeyValueLayout.TileWidth / width;
        int strips = tiles * stripsPerTile;
        int tileFloats = headDim * KeyValueLayout.TileWidth;

        int strip = 0;
        if (n == 1)
        {
            // Nothing to reuse across queries: take eight strips at a time for more loads in flight.
            for (; strip + 8 <= strips; strip += 8)
                ScoresOneQueryEightStrips<TElement, TStorage, TLanes, TVector>(queries, headDim,
                    StripStart(keyHead, strip, stripsPerTile, width, tileFloats),
                    StripStart(keyHead, strip + 4, stripsPerTile, width, tileFloats),
                    stripsPerTile, width, tileFloats, weights + strip * width);
        }
        for (; strip + 4 <= strips; strip += 4)
        {
            TStorage* k0 = StripStart(keyHead, strip, stripsPerTile, width, tileFloats);
            TStorage* k1 = StripStart(keyHead, strip + 1, stripsPerTile, width, tileFloats);
            TStorage* k2 = StripStart(keyHead, strip + 2, stripsPerTile, width, tileFloats);
            TStorage* k3 = StripStart(keyHead, strip + 3, stripsPerTile, width, tileFloats);
            float* output = weights + strip * width;
            int i = 0;
            for (; i + 2 <= n; i += 2)
                ScoresTwoQueriesFourStrips<TElement, TStorage, TLanes, TVector>(queries + i * queryStride, queries + (i + 1) * queryStride,
                    headDim, k0, k1, k2, k3, output + i * paddedLength, output + (i + 1) * paddedLength);
            if (i < n)
                ScoresOneQueryFourStrips<TElement, TStorage, TLanes, TVector>(queries + i * queryStride, headDim, k0, k1, k2, k3,
                    output + i * paddedLength);
        }
        for (; strip < strips; strip++)
        {
            TStorage* k0 = StripStart(keyHead, strip, stripsPerTile, width, tileFloats);
            for (int i = 0; i < n; i++)
                ScoresOneQueryOneStrip<TElement, TStorage, TLanes, TVector>(queries + i * queryStride, headDim, k0,
                    weights + i * paddedLength + strip * width);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TStorage* StripStart<TStorage>(TStorage* keyHead, int strip, int stripsPerTile, int width, int tileFloats)
        where TStorage : unmanaged =>
        keyHead + (long)(strip / stripsPerTile) * tileFloats + strip % stripsPerTile * width;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresTwoQueriesFourStrips<TElement, TStorage, TLanes, TVector>(float* q0, float* q1, int headDim,
        TStorage* k0, TStorage* k1, TStorage* k2, TStorage* k3, float* output0, float* output1)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        TVector a00 = TLanes.Zero, a01 = TLanes.Zero, a02 = TLanes.Zero, a03 = TLanes.Zero;
        TVector a10 = TLanes.Zero, a11 = TLanes.Zero, a12 = TLanes.Zero, a13 = TLanes.Zero;
        for (int d = 0; d < headDim; d++)
        {
            int row = d * KeyValueLayout.TileWidth;
            TVector x0 = TLanes.Broadcast(q0[d]);
            TVector x1 = TLanes.Broadcast(q1[d]);
            TVector r0 = KeyValueLoad.Widened<TElement, TStorage, TVector>(k0 + row);
            a00 = TLanes.MultiplyAdd(r0, x0, a00);
            a10 = TLanes.MultiplyAdd(r0, x1, a10);
            TVector r1 = KeyValueLoad.Widened<TElement, TStorage, TVector>(k1 + row);
            a01 = TLanes.MultiplyAdd(r1, x0, a01);
            a11 = TLanes.MultiplyAdd(r1, x1, a11);
            TVector r2 = KeyValueLoad.Widened<TElement, TStorage, TVector>(k2 + row);
            a02 = TLanes.MultiplyAdd(r2, x0, a02);
            a12 = TLanes.MultiplyAdd(r2, x1, a12);
            TVector r3 = KeyValueLoad.Widened<TElement, TStorage, TVector>(k3 + row);
            a03 = TLanes.MultiplyAdd(r3, x0, a03);
            a13 = TLanes.MultiplyAdd(r3, x1, a13);
        }
        int w = TLanes.Count;
        TLanes.Store(a00, output0); TLanes.Store(a01, output0 + w); TLanes.Store(a02, output0 + 2 * w); TLanes.Store(a03, output0 + 3 * w);
        TLanes.Store(a10, output1); TLanes.Store(a11, output1 + w); TLanes.Store(a12, output1 + 2 * w); TLanes.Store(a13, output1 + 3 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresOneQueryFourStrips<TElement, TStorage, TLanes, TVector>(float* q, int headDim,
        TStorage* k0, TStorage* k1, TStorage* k2, TStorage* k3, float* output)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        TVector a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
        for (int d = 0; d < headDim; d++)
        {
            int row = d * KeyValueLayout.TileWidth;
            TVector x = TLanes.Broadcast(q[d]);
            a0 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k0 + row), x, a0);
            a1 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k1 + row), x, a1);
            a2 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k2 + row), x, a2);
            a3 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k3 + row), x, a3);
        }
        int w = TLanes.Count;
        TLanes.Store(a0, output); TLanes.Store(a1, output + w); TLanes.Store(a2, output + 2 * w); TLanes.Store(a3, output + 3 * w);
    }

    // Eight consecutive strips from strip 8s: the first four start at k0, the next four at k4.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresOneQueryEightStrips<TElement, TStorage, TLanes, TVector>(float* q, int headDim, TStorage* k0, TStorage* k4,
        int stripsPerTile, int width, int tileFloats, float* output)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        // The first strip is a multiple of 8, so both groups of four start on a tile boundary and share offsets.
        TStorage* k1 = k0 + StripDelta(1, stripsPerTile, width, tileFloats);
        TStorage* k2 = k0 + StripDelta(2, stripsPerTile, width, tileFloats);
        TStorage* k3 = k0 + StripDelta(3, stripsPerTile, width, tileFloats);
        TStorage* k5 = k4 + StripDelta(1, stripsPerTile, width, tileFloats);
        TStorage* k6 = k4 + StripDelta(2, stripsPerTile, width, tileFloats);
        TStorage* k7 = k4 + StripDelta(3, stripsPerTile, width, tileFloats);
        TVector a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero;
        TVector a4 = TLanes.Zero, a5 = TLanes.Zero, a6 = TLanes.Zero, a7 = TLanes.Zero;
        for (int d = 0; d < headDim; d++)
        {
            int row = d * KeyValueLayout.TileWidth;
            TVector x = TLanes.Broadcast(q[d]);
            a0 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k0 + row), x, a0);
            a1 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k1 + row), x, a1);
            a2 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k2 + row), x, a2);
            a3 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k3 + row), x, a3);
            a4 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k4 + row), x, a4);
            a5 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k5 + row), x, a5);
            a6 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k6 + row), x, a6);
            a7 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k7 + row), x, a7);
        }
        int w = TLanes.Count;
        TLanes.Store(a0, output); TLanes.Store(a1, output + w); TLanes.Store(a2, output + 2 * w); TLanes.Store(a3, output + 3 * w);
        TLanes.Store(a4, output + 4 * w); TLanes.Store(a5, output + 5 * w); TLanes.Store(a6, output + 6 * w); TLanes.Store(a7, output + 7 * w);
    }

    // Distance from a strip on a tile boundary to the strip delta further on.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long StripDelta(int delta, int stripsPerTile, int width, int tileFloats) =>
        (long)(delta / stripsPerTile) * tileFloats + delta % stripsPerTile * width;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresOneQueryOneStrip<TElement, TStorage, TLanes, TVector>(float* q, int headDim, TStorage* k, float* output)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        // Two chains over even and odd d so the FMA latency is not the whole cost of a lone strip.
        TVector even = TLanes.Zero, odd = TLanes.Zero;
        int d = 0;
        for (; d + 2 <= headDim; d += 2)
        {
            even = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k + d * KeyValueLayout.TileWidth), TLanes.Broadcast(q[d]), even);
            odd = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k + (d + 1) * KeyValueLayout.TileWidth), TLanes.Broadcast(q[d + 1]), odd);
        }
        if (d < headDim) even = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(k + d * KeyValueLayout.TileWidth), TLanes.Broadcast(q[d]), even);
        TLanes.Store(TLanes.Add(even, odd), output);
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

    // accumulators[i, :] = Σ_j weights[i, j] · V[j, :]. Rows are taken in blocks that stay in L1 while every query
    // passes over them; the head dimension in groups of four vectors (registers), then single vectors. A query's sums
    // do not depend on the block size, which depends on n: batched steps get the bits they would get alone.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedSum<TElement, TStorage, TLanes, TVector>(float* weights, int paddedLength, int n, TStorage* valueHead, int m,
        int headDim, int chunks, float* accumulators, float* oddPartials, int paddedHeadDim)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        // Even, so every block starts at an even row and a single vector's even and odd chains stay those of one pass.
        int blockRows = n == 1 ? m : Math.Max(16, ValueBlockBytes / (headDim * sizeof(TStorage))) & ~1;
        for (int start = 0; start < m; start += blockRows)
        {
            int end = Math.Min(m, start + blockRows);
            bool first = start == 0, last = end == m;
            int i = 0;
            for (; i + 2 <= n; i += 2)
            {
                float* p0 = weights + i * paddedLength, p1 = p0 + paddedLength;
                float* acc0 = accumulators + i * paddedHeadDim, acc1 = acc0 + paddedHeadDim;
                float* odd0 = oddPartials + i * paddedHeadDim, odd1 = odd0 + paddedHeadDim;
                int c = 0;
                for (; c + 4 <= chunks; c += 4)
                    SumTwoQueriesFourChunks<TElement, TStorage, TLanes, TVector>(p0, p1, valueHead + c * w, headDim, start, end,
                        acc0 + c * w, acc1 + c * w, first);
                for (; c < chunks; c++)
                {
                    SumOneChunk<TElement, TStorage, TLanes, TVector>(p0, valueHead + c * w, headDim, start, end, acc0 + c * w, odd0 + c * w, first, last);
                    SumOneChunk<TElement, TStorage, TLanes, TVector>(p1, valueHead + c * w, headDim, start, end, acc1 + c * w, odd1 + c * w, first, last);
                }
            }
            if (i < n)
            {
                float* p = weights + i * paddedLength;
                float* acc = accumulators + i * paddedHeadDim, odd = oddPartials + i * paddedHeadDim;
                int c = 0;
                for (; c + 4 <= chunks; c += 4)
                    SumFourChunks<TElement, TStorage, TLanes, TVector>(p, valueHead + c * w, headDim, start, end, acc + c * w, first);
                for (; c < chunks; c++)
                    SumOneChunk<TElement, TStorage, TLanes, TVector>(p, valueHead + c * w, headDim, start, end, acc + c * w, odd + c * w, first, last);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumFourChunks<TElement, TStorage, TLanes, TVector>(float* p, TStorage* values, int headDim, int start, int end,
        float* acc, bool first)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector a0, a1, a2, a3;
        if (first) { a0 = TLanes.Zero; a1 = TLanes.Zero; a2 = TLanes.Zero; a3 = TLanes.Zero; }
        else { a0 = TLanes.Load(acc); a1 = TLanes.Load(acc + w); a2 = TLanes.Load(acc + 2 * w); a3 = TLanes.Load(acc + 3 * w); }
        TStorage* row = values + (long)start * headDim;
        for (int j = start; j < end; j++, row += headDim)
        {
            TVector x = TLanes.Broadcast(p[j]);
            a0 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row), x, a0);
            a1 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + w), x, a1);
            a2 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 2 * w), x, a2);
            a3 = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 3 * w), x, a3);
        }
        TLanes.Store(a0, acc); TLanes.Store(a1, acc + w); TLanes.Store(a2, acc + 2 * w); TLanes.Store(a3, acc + 3 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumTwoQueriesFourChunks<TElement, TStorage, TLanes, TVector>(float* p0, float* p1, TStorage* values, int headDim,
        int start, int end, float* acc0, float* acc1, bool first)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector a0, a1, a2, a3, b0, b1, b2, b3;
        if (first)
        {
            a0 = TLanes.Zero; a1 = TLanes.Zero; a2 = TLanes.Zero; a3 = TLanes.Zero;
            b0 = TLanes.Zero; b1 = TLanes.Zero; b2 = TLanes.Zero; b3 = TLanes.Zero;
        }
        else
        {
            a0 = TLanes.Load(acc0); a1 = TLanes.Load(acc0 + w); a2 = TLanes.Load(acc0 + 2 * w); a3 = TLanes.Load(acc0 + 3 * w);
            b0 = TLanes.Load(acc1); b1 = TLanes.Load(acc1 + w); b2 = TLanes.Load(acc1 + 2 * w); b3 = TLanes.Load(acc1 + 3 * w);
        }
        TStorage* row = values + (long)start * headDim;
        for (int j = start; j < end; j++, row += headDim)
        {
            TVector x = TLanes.Broadcast(p0[j]);
            TVector y = TLanes.Broadcast(p1[j]);
            TVector v0 = KeyValueLoad.Widened<TElement, TStorage, TVector>(row);
            a0 = TLanes.MultiplyAdd(v0, x, a0);
            b0 = TLanes.MultiplyAdd(v0, y, b0);
            TVector v1 = KeyValueLoad.Widened<TElement, TStorage, TVector>(row + w);
            a1 = TLanes.MultiplyAdd(v1, x, a1);
            b1 = TLanes.MultiplyAdd(v1, y, b1);
            TVector v2 = KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 2 * w);
            a2 = TLanes.MultiplyAdd(v2, x, a2);
            b2 = TLanes.MultiplyAdd(v2, y, b2);
            TVector v3 = KeyValueLoad.Widened<TElement, TStorage, TVector>(row + 3 * w);
            a3 = TLanes.MultiplyAdd(v3, x, a3);
            b3 = TLanes.MultiplyAdd(v3, y, b3);
        }
        TLanes.Store(a0, acc0); TLanes.Store(a1, acc0 + w); TLanes.Store(a2, acc0 + 2 * w); TLanes.Store(a3, acc0 + 3 * w);
        TLanes.Store(b0, acc1); TLanes.Store(b1, acc1 + w); TLanes.Store(b2, acc1 + 2 * w); TLanes.Store(b3, acc1 + 3 * w);
    }

    // Lanes past headDim read the next row (or the value region's zero padding after the last row); they are never written out.
    // Two chains (even and odd rows; start is even) carried across blocks in acc and oddPartial, added after the last block.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumOneChunk<TElement, TStorage, TLanes, TVector>(float* p, TStorage* values, int headDim, int start, int end,
        float* acc, float* oddPartial, bool first, bool last)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        TVector even = first ? TLanes.Zero : TLanes.Load(acc), odd = first ? TLanes.Zero : TLanes.Load(oddPartial);
        TStorage* row = values + (long)start * headDim;
        int j = start;
        for (; j + 2 <= end; j += 2, row += 2 * headDim)
        {
            even = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row), TLanes.Broadcast(p[j]), even);
            odd = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row + headDim), TLanes.Broadcast(p[j + 1]), odd);
        }
        if (j < end) even = TLanes.MultiplyAdd(KeyValueLoad.Widened<TElement, TStorage, TVector>(row), TLanes.Broadcast(p[j]), even);
        if (last)
        {
            TLanes.Store(TLanes.Add(even, odd), acc);
            return;
        }
        TLanes.Store(even, acc);
        TLanes.Store(odd, oddPartial);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scale<TLanes, TVector>(float* source, float factor, float* destination, int length)
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        int w = TLanes.Count;
        TVector f = TLanes.Broadcast(factor);
        int k = 0;
        for (; k + w <= length; k += w) TLanes.Store(TLanes.Multiply(TLanes.Load(source + k), f), destination + k);
        for (; k < length; k++) destination[k] = source[k] * factor;
    }
}
