using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// Projected keys, [m, heads·headDim] (row j is source position j), into the decode kernels' key tiles,
/// [heads, tiles, headDim, 16]: a transpose of each head's 16-position blocks. Every variant writes the same bits.
/// </summary>
/// <remarks>
/// Vector512 transposes 16×16 blocks in registers (16 loads, 64 shuffles, 16 stores); Vector256 gathers each tile row
/// with two 8-lane gathers; narrower variants copy element by element (<see cref="TransposeScalar"/>, the reference).
/// A last tile short of 16 positions, and head columns past the last multiple of 16 in Vector512, take the scalar copy.
/// </remarks>
internal static unsafe class KeyTileTranspose
{
    private const int TileWidth = KeyValueLayout.TileWidth;

    /// <summary>Heads [headStart, headEnd) of the keys.</summary>
    /// <param name="source">[m, heads·headDim]</param>
    /// <param name="tiled">[headEnd − headStart, tiles, headDim, 16]: the tiles of head headStart first</param>
    public static void Transpose(float* source, float* tiled, int m, int heads, int headDim, int headStart, int headEnd,
        KernelVariant variant)
    {
        switch (KernelVariants.Resolve(variant))
        {
            case KernelVariant.Vector512 when Avx512F.IsSupported:
                TransposeVector512(source, tiled, m, heads, headDim, headStart, headEnd);
                break;
            case KernelVariant.Vector512 or KernelVariant.Vector256 when Avx2.IsSupported:
                TransposeVector256(source, tiled, m, heads, headDim, headStart, headEnd);
                break;
            default:
                TransposeScalar(source, tiled, m, heads, headDim, headStart, headEnd);
                break;
        }
    }

    /// <summary>The reference: one element at a time; zero past m in the last tile.</summary>
    public static void TransposeScalar(float* source, float* tiled, int m, int heads, int headDim, int headStart, int headEnd)
    {
        int inner = heads * headDim, tiles = Tiles(m);
        for (int h = headStart; h < headEnd; h++)
            for (int t = 0; t < tiles; t++)
                CopyTile(source, TileOf(tiled, h - headStart, t, tiles, headDim), m, inner, h * headDim, t, 0, headDim);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeVector256(float* source, float* tiled, int m, int heads, int headDim, int headStart, int headEnd)
    {
        int inner = heads * headDim, tiles = Tiles(m), fullTiles = m / TileWidth;
        var rowOffsets = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * inner;
        for (int h = headStart; h < headEnd; h++)
        {
            for (int t = 0; t < fullTiles; t++)
            {
                float* tile = TileOf(tiled, h - headStart, t, tiles, headDim);
                float* lowerRows = source + (long)t * TileWidth * inner + h * headDim, upperRows = lowerRows + 8L * inner;
                // Each tile row is two 8-lane gathers down the 16 source rows, and the writes stay sequential.
                for (int c = 0; c < headDim; c++)
                {
                    Avx2.GatherVector256(lowerRows + c, rowOffsets, 4).Store(tile + c * TileWidth);
                    Avx2.GatherVector256(upperRows + c, rowOffsets, 4).Store(tile + c * TileWidth + 8);
                }
            }
            if (fullTiles < tiles)
                CopyTile(source, TileOf(tiled, h - headStart, fullTiles, tiles, headDim), m, inner, h * headDim, fullTiles, 0, headDim);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeVector512(float* source, float* tiled, int m, int heads, int headDim, int headStart, int headEnd)
    {
        int inner = heads * headDim, tiles = Tiles(m), fullTiles = m / TileWidth;
        int blockColumns = headDim - headDim % TileWidth; // columns the 16×16 blocks cover
        for (int h = headStart; h < headEnd; h++)
        {
            for (int t = 0; t < fullTiles; t++)
            {
                float* tile = TileOf(tiled, h - headStart, t, tiles, headDim);
                float* rows = source + (long)t * TileWidth * inner + h * headDim;
                for (int c = 0; c < blockColumns; c += TileWidth) Transpose16x16(rows + c, inner, tile + c * TileWidth);
                if (blockColumns < headDim) CopyTile(source, tile, m, inner, h * headDim, t, blockColumns, headDim);
            }
            if (fullTiles < tiles)
                CopyTile(source, TileOf(tiled, h - headStart, fullTiles, tiles, headDim), m, inner, h * headDim, fullTiles, 0, headDim);
        }
    }

    /// <summary>Rows r·stride + [0, 16) for r in [0, 16) → 16 contiguous rows of 16: row c holds column c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16(float* rows, int stride, float* columns)
    {
        Vector512<float> r0 = Avx512F.LoadVector512(rows), r1 = Avx512F.LoadVector512(rows + stride),
            r2 = Avx512F.LoadVector512(rows + 2L * stride), r3 = Avx512F.LoadVector512(rows + 3L * stride),
            r4 = Avx512F.LoadVector512(rows + 4L * stride), r5 = Avx512F.LoadVector512(rows + 5L * stride),
            r6 = Avx512F.LoadVector512(rows + 6L * stride), r7 = Avx512F.LoadVector512(rows + 7L * stride),
            r8 = Avx512F.LoadVector512(rows + 8L * stride), r9 = Avx512F.LoadVector512(rows + 9L * stride),
            r10 = Avx512F.LoadVector512(rows + 10L * stride), r11 = Avx512F.LoadVector512(rows + 11L * stride),
            r12 = Avx512F.LoadVector512(rows + 12L * stride), r13 = Avx512F.LoadVector512(rows + 13L * stride),
            r14 = Avx512F.LoadVector512(rows + 14L * stride), r15 = Avx512F.LoadVector512(rows + 15L * stride);

        // In each 128-bit lane k, u[4g + j] ends up holding column 4k + j of rows 4g .. 4g + 3.
        Pairs(r0, r1, r2, r3, out var u0, out var u1, out var u2, out var u3);
        Pairs(r4, r5, r6, r7, out var u4, out var u5, out var u6, out var u7);
        Pairs(r8, r9, r10, r11, out var u8, out var u9, out var u10, out var u11);
        Pairs(r12, r13, r14, r15, out var u12, out var u13, out var u14, out var u15);

        // Lane k of the four row groups' u[·+ j] together is column 4k + j.
        Lanes(u0, u4, u8, u12, columns, 0);
        Lanes(u1, u5, u9, u13, columns, 1);
        Lanes(u2, u6, u10, u14, columns, 2);
        Lanes(u3, u7, u11, u15, columns, 3);
    }

    /// <summary>Four rows → per 128-bit lane k, columns 4k, 4k+1, 4k+2, 4k+3 of those rows (one vector each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pairs(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
        out Vector512<float> column0, out Vector512<float> column1, out Vector512<float> column2, out Vector512<float> column3)
    {
        var abLow = Avx512F.UnpackLow(a, b).AsDouble();   // a0 b0 a1 b1 per lane
        var abHigh = Avx512F.UnpackHigh(a, b).AsDouble(); // a2 b2 a3 b3
        var cdLow = Avx512F.UnpackLow(c, d).AsDouble();
        var cdHigh = Avx512F.UnpackHigh(c, d).AsDouble();
        column0 = Avx512F.UnpackLow(abLow, cdLow).AsSingle();   // a0 b0 c0 d0
        column1 = Avx512F.UnpackHigh(abLow, cdLow).AsSingle();  // a1 b1 c1 d1
        column2 = Avx512F.UnpackLow(abHigh, cdHigh).AsSingle(); // a2 b2 c2 d2
        column3 = Avx512F.UnpackHigh(abHigh, cdHigh).AsSingle();
    }

    /// <summary>Gathers lane k of four row groups into column 4k + <paramref name="j"/> (k = 0..3), and stores them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes(Vector512<float> rows0, Vector512<float> rows4, Vector512<float> rows8, Vector512<float> rows12,
        float* columns, int j)
    {
        // 0x88 takes lanes 0 and 2 of each operand, 0xDD lanes 1 and 3.
        var evenLow = Avx512F.Shuffle4x128(rows0, rows4, 0x88);   // lanes 0, 2 of rows 0-3 and 4-7
        var oddLow = Avx512F.Shuffle4x128(rows0, rows4, 0xDD);    // lanes 1, 3
        var evenHigh = Avx512F.Shuffle4x128(rows8, rows12, 0x88);
        var oddHigh = Avx512F.Shuffle4x128(rows8, rows12, 0xDD);
        Avx512F.Store(columns + j * TileWidth, Avx512F.Shuffle4x128(evenLow, evenHigh, 0x88));         // lane 0
        Avx512F.Store(columns + (8 + j) * TileWidth, Avx512F.Shuffle4x128(evenLow, evenHigh, 0xDD));   // lane 2
        Avx512F.Store(columns + (4 + j) * TileWidth, Avx512F.Shuffle4x128(oddLow, oddHigh, 0x88));     // lane 1
        Avx512F.Store(columns + (12 + j) * TileWidth, Avx512F.Shuffle4x128(oddLow, oddHigh, 0xDD));    // lane 3
    }

    /// <summary>Columns [columnStart, columnEnd) of tile t of the head whose columns start at headColumn; zero past m.</summary>
    private static void CopyTile(float* source, float* tile, int m, int inner, int headColumn, int t, int columnStart,
        int columnEnd)
    {
        int j0 = t * TileWidth, rows = Math.Min(TileWidth, m - j0);
        if (rows < TileWidth) new Span<float>(tile + columnStart * TileWidth, (columnEnd - columnStart) * TileWidth).Clear();
        for (int r = 0; r < rows; r++)
        {
            float* row = source + (long)(j0 + r) * inner + headColumn;
            for (int c = columnStart; c < columnEnd; c++) tile[c * TileWidth + r] = row[c];
        }
    }

    private static float* TileOf(float* tiled, int headOffset, int t, int tiles, int headDim) =>
        tiled + ((long)headOffset * tiles + t) * headDim * TileWidth;

    private static int Tiles(int m) => (m + TileWidth - 1) / TileWidth;
}
