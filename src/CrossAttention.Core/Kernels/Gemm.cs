using System.Runtime.CompilerServices;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// The projection micro-kernel for every variant: one driver (<see cref="Panel"/>) cuts a 32-wide weight panel into
/// tiles of <see cref="IMultiplyAddLanes{TVector}.TileHeight"/> rows × two vectors, and one body (<see cref="Tile"/>)
/// multiplies a tile. TLanes is a struct, so the JIT compiles one copy per lane width (Vector512: 12 × 32, 24 zmm
/// accumulators; Vector256 and Vector128: 6 × 16 and 6 × 8, 12 accumulators, which fit AVX2's 16 registers;
/// scalar: 4 × 2).
/// <para>
/// The panel's elements are TStorage read through TElement (float32, or float16/bfloat16 bit patterns widened in
/// registers as they are loaded), so narrow weights stream at half the bytes with no float32 copy; widening is exact,
/// so a product over narrow weights equals the float32 product over their widened values, bit for bit.
/// </para>
/// </summary>
internal static unsafe class Gemm<TLanes, TVector>
    where TLanes : struct, IMultiplyAddLanes<TVector>
    where TVector : struct
{
    /// <summary>Floats in one vector: half a tile row.</summary>
    private static int W => TLanes.Count;

    /// <summary>
    /// y [rows, 32] = init + x [rows, kc]·w [kc, 32] (init = the 32 values in <paramref name="init"/> for every row),
    /// or y += x·w when init is null. rows ≤ 12; x(i, k) sits at x + i·rowStride + k·kStride; w is one panel of
    /// TStorage elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Panel<TElement, TStorage>(int rows, float* x, nint rowStride, nint kStride, void* panel, int kc,
        float* y, nint ldy, float* init)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        var w = (TStorage*)panel;
        for (int c = 0; c < PackedLinear.PanelWidth; c += 2 * W)
        {
            float* initC = init == null ? null : init + c;
            for (int r = 0; r < rows; r += TLanes.TileHeight)
            {
                float* xr = x + r * rowStride, yr = y + r * ldy + c;
                TStorage* wc = w + c;
                switch (Math.Min(rows - r, TLanes.TileHeight))
                {
                    case 12: Tile<Rows12, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 11: Tile<Rows11, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 10: Tile<Rows10, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 9: Tile<Rows9, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 8: Tile<Rows8, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 7: Tile<Rows7, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 6: Tile<Rows6, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 5: Tile<Rows5, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 4: Tile<Rows4, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 3: Tile<Rows3, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 2: Tile<Rows2, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    default: Tile<Rows1, TElement, TStorage>(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                }
            }
        }
    }

    /// <summary>Output columns <see cref="OneRowPanels{TElement, TStorage}"/> computes at once: eight vectors' worth.</summary>
    public static int OneRowColumns => 8 * W;

    /// <summary>
    /// y [1, 8·W] = init + x [1, kc]·w for one row over 8·W / 32 consecutive panels (four with Vector512): a decode
    /// step's projection. <see cref="Tile"/> with one row has two accumulators, so each k waits for the previous k's
    /// multiply-add (a latency-bound chain: two vectors per four cycles); here eight independent chains let the core
    /// keep its loads in flight. Every column is still one chain in k order, as in <see cref="Tile"/>: the same bits.
    /// </summary>
    /// <param name="panelStride">elements from one panel to the next (in·32)</param>
    /// <param name="init">the first panel's 32 initial values; the next panel's are <paramref name="initStride"/> further on</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OneRowPanels<TElement, TStorage>(float* x, void* panels, nint panelStride, int kc, float* y,
        float* init, nint initStride)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        // Accumulator v covers panel v / vectorsPerPanel, lanes (v % vectorsPerPanel)·W: constants once W is.
        int vectorsPerPanel = PackedLinear.PanelWidth / W;
        nint o0 = Offset(0, vectorsPerPanel, panelStride), o1 = Offset(1, vectorsPerPanel, panelStride);
        nint o2 = Offset(2, vectorsPerPanel, panelStride), o3 = Offset(3, vectorsPerPanel, panelStride);
        nint o4 = Offset(4, vectorsPerPanel, panelStride), o5 = Offset(5, vectorsPerPanel, panelStride);
        nint o6 = Offset(6, vectorsPerPanel, panelStride), o7 = Offset(7, vectorsPerPanel, panelStride);
        TVector c0 = TLanes.Load(init + Offset(0, vectorsPerPanel, initStride)), c1 = TLanes.Load(init + Offset(1, vectorsPerPanel, initStride));
        TVector c2 = TLanes.Load(init + Offset(2, vectorsPerPanel, initStride)), c3 = TLanes.Load(init + Offset(3, vectorsPerPanel, initStride));
        TVector c4 = TLanes.Load(init + Offset(4, vectorsPerPanel, initStride)), c5 = TLanes.Load(init + Offset(5, vectorsPerPanel, initStride));
        TVector c6 = TLanes.Load(init + Offset(6, vectorsPerPanel, initStride)), c7 = TLanes.Load(init + Offset(7, vectorsPerPanel, initStride));
        var w = (TStorage*)panels;
        for (int k = 0; k < kc; k++)
        {
            TVector a = TLanes.Broadcast(x[k]);
            c0 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o0), c0);
            c1 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o1), c1);
            c2 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o2), c2);
            c3 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o3), c3);
            c4 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o4), c4);
            c5 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o5), c5);
            c6 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o6), c6);
            c7 = TLanes.MultiplyAdd(a, KeyValueLoad.Widened<TElement, TStorage, TVector>(w + o7), c7);
            w += PackedLinear.PanelWidth;
        }
        // y's columns run on from panel to panel: accumulator v goes to column v·W.
        TLanes.Store(c0, y); TLanes.Store(c1, y + W); TLanes.Store(c2, y + 2 * W); TLanes.Store(c3, y + 3 * W);
        TLanes.Store(c4, y + 4 * W); TLanes.Store(c5, y + 5 * W); TLanes.Store(c6, y + 6 * W); TLanes.Store(c7, y + 7 * W);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Offset(int vector, int vectorsPerPanel, nint panelStride) =>
        vector / vectorsPerPanel * panelStride + vector % vectorsPerPanel * W;

    /// <summary>
    /// One tile of TRows.Count rows × 2·W columns, every accumulator its own local. TRows is a struct too, so each
    /// (lanes, rows) pair is its own compiled copy in which TRows.Count is a constant: the guarded rows above it
    /// fold away and the accumulators left stay in registers. Every row is one chain of multiply-adds in k
    /// order whatever the tile height, so a row's result does not depend on how many rows share its call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TElement, TStorage>(float* x, nint rowStride, nint kStride, TStorage* w, int kc,
        float* y, nint ldy, float* init)
        where TRows : struct, ITileRows
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        // x(i, k) = x0, x4 or x8 [k·kStride + (i % 4)·rowStride]: three row pointers and three offsets address 12 rows.
        float* x0 = x, x4 = x + 4 * rowStride, x8 = x + 8 * rowStride;
        nint r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride;
        TVector c0_0, c0_1, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default,
            c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default, c6_0 = default, c6_1 = default,
            c7_0 = default, c7_1 = default, c8_0 = default, c8_1 = default, c9_0 = default, c9_1 = default,
            c10_0 = default, c10_1 = default, c11_0 = default, c11_1 = default;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init), b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            if (TRows.Count > 1) { c1_0 = b0; c1_1 = b1; }
            if (TRows.Count > 2) { c2_0 = b0; c2_1 = b1; }
            if (TRows.Count > 3) { c3_0 = b0; c3_1 = b1; }
            if (TRows.Count > 4) { c4_0 = b0; c4_1 = b1; }
            if (TRows.Count > 5) { c5_0 = b0; c5_1 = b1; }
            if (TRows.Count > 6) { c6_0 = b0; c6_1 = b1; }
            if (TRows.Count > 7) { c7_0 = b0; c7_1 = b1; }
            if (TRows.Count > 8) { c8_0 = b0; c8_1 = b1; }
            if (TRows.Count > 9) { c9_0 = b0; c9_1 = b1; }
            if (TRows.Count > 10) { c10_0 = b0; c10_1 = b1; }
            if (TRows.Count > 11) { c11_0 = b0; c11_1 = b1; }
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            if (TRows.Count > 1) { c1_0 = TLanes.Load(y + 1 * ldy); c1_1 = TLanes.Load(y + 1 * ldy + W); }
            if (TRows.Count > 2) { c2_0 = TLanes.Load(y + 2 * ldy); c2_1 = TLanes.Load(y + 2 * ldy + W); }
            if (TRows.Count > 3) { c3_0 = TLanes.Load(y + 3 * ldy); c3_1 = TLanes.Load(y + 3 * ldy + W); }
            if (TRows.Count > 4) { c4_0 = TLanes.Load(y + 4 * ldy); c4_1 = TLanes.Load(y + 4 * ldy + W); }
            if (TRows.Count > 5) { c5_0 = TLanes.Load(y + 5 * ldy); c5_1 = TLanes.Load(y + 5 * ldy + W); }
            if (TRows.Count > 6) { c6_0 = TLanes.Load(y + 6 * ldy); c6_1 = TLanes.Load(y + 6 * ldy + W); }
            if (TRows.Count > 7) { c7_0 = TLanes.Load(y + 7 * ldy); c7_1 = TLanes.Load(y + 7 * ldy + W); }
            if (TRows.Count > 8) { c8_0 = TLanes.Load(y + 8 * ldy); c8_1 = TLanes.Load(y + 8 * ldy + W); }
            if (TRows.Count > 9) { c9_0 = TLanes.Load(y + 9 * ldy); c9_1 = TLanes.Load(y + 9 * ldy + W); }
            if (TRows.Count > 10) { c10_0 = TLanes.Load(y + 10 * ldy); c10_1 = TLanes.Load(y + 10 * ldy + W); }
            if (TRows.Count > 11) { c11_0 = TLanes.Load(y + 11 * ldy); c11_1 = TLanes.Load(y + 11 * ldy + W); }
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = KeyValueLoad.Widened<TElement, TStorage, TVector>(w), w1 = KeyValueLoad.Widened<TElement, TStorage, TVector>(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            if (TRows.Count > 1) { a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1); }
            if (TRows.Count > 2) { a = TLanes.Broadcast(x0[r2]); c2_0 = TLanes.MultiplyAdd(a, w0, c2_0); c2_1 = TLanes.MultiplyAdd(a, w1, c2_1); }
            if (TRows.Count > 3) { a = TLanes.Broadcast(x0[r3]); c3_0 = TLanes.MultiplyAdd(a, w0, c3_0); c3_1 = TLanes.MultiplyAdd(a, w1, c3_1); }
            if (TRows.Count > 4) { a = TLanes.Broadcast(x4[0]); c4_0 = TLanes.MultiplyAdd(a, w0, c4_0); c4_1 = TLanes.MultiplyAdd(a, w1, c4_1); }
            if (TRows.Count > 5) { a = TLanes.Broadcast(x4[r1]); c5_0 = TLanes.MultiplyAdd(a, w0, c5_0); c5_1 = TLanes.MultiplyAdd(a, w1, c5_1); }
            if (TRows.Count > 6) { a = TLanes.Broadcast(x4[r2]); c6_0 = TLanes.MultiplyAdd(a, w0, c6_0); c6_1 = TLanes.MultiplyAdd(a, w1, c6_1); }
            if (TRows.Count > 7) { a = TLanes.Broadcast(x4[r3]); c7_0 = TLanes.MultiplyAdd(a, w0, c7_0); c7_1 = TLanes.MultiplyAdd(a, w1, c7_1); }
            if (TRows.Count > 8) { a = TLanes.Broadcast(x8[0]); c8_0 = TLanes.MultiplyAdd(a, w0, c8_0); c8_1 = TLanes.MultiplyAdd(a, w1, c8_1); }
            if (TRows.Count > 9) { a = TLanes.Broadcast(x8[r1]); c9_0 = TLanes.MultiplyAdd(a, w0, c9_0); c9_1 = TLanes.MultiplyAdd(a, w1, c9_1); }
            if (TRows.Count > 10) { a = TLanes.Broadcast(x8[r2]); c10_0 = TLanes.MultiplyAdd(a, w0, c10_0); c10_1 = TLanes.MultiplyAdd(a, w1, c10_1); }
            if (TRows.Count > 11) { a = TLanes.Broadcast(x8[r3]); c11_0 = TLanes.MultiplyAdd(a, w0, c11_0); c11_1 = TLanes.MultiplyAdd(a, w1, c11_1); }
            x0 += kStride; w += PackedLinear.PanelWidth;
            // Only the pointers a tile reads move, so the smaller copies do not carry dead induction variables.
            if (TRows.Count > 4) x4 += kStride;
            if (TRows.Count > 8) x8 += kStride;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        if (TRows.Count > 1) { TLanes.Store(c1_0, y + 1 * ldy); TLanes.Store(c1_1, y + 1 * ldy + W); }
        if (TRows.Count > 2) { TLanes.Store(c2_0, y + 2 * ldy); TLanes.Store(c2_1, y + 2 * ldy + W); }
        if (TRows.Count > 3) { TLanes.Store(c3_0, y + 3 * ldy); TLanes.Store(c3_1, y + 3 * ldy + W); }
        if (TRows.Count > 4) { TLanes.Store(c4_0, y + 4 * ldy); TLanes.Store(c4_1, y + 4 * ldy + W); }
        if (TRows.Count > 5) { TLanes.Store(c5_0, y + 5 * ldy); TLanes.Store(c5_1, y + 5 * ldy + W); }
        if (TRows.Count > 6) { TLanes.Store(c6_0, y + 6 * ldy); TLanes.Store(c6_1, y + 6 * ldy + W); }
        if (TRows.Count > 7) { TLanes.Store(c7_0, y + 7 * ldy); TLanes.Store(c7_1, y + 7 * ldy + W); }
        if (TRows.Count > 8) { TLanes.Store(c8_0, y + 8 * ldy); TLanes.Store(c8_1, y + 8 * ldy + W); }
        if (TRows.Count > 9) { TLanes.Store(c9_0, y + 9 * ldy); TLanes.Store(c9_1, y + 9 * ldy + W); }
        if (TRows.Count > 10) { TLanes.Store(c10_0, y + 10 * ldy); TLanes.Store(c10_1, y + 10 * ldy + W); }
        if (TRows.Count > 11) { TLanes.Store(c11_0, y + 11 * ldy); TLanes.Store(c11_1, y + 11 * ldy + W); }
    }
}

/// <summary>The row count of a GEMM tile as a type, so the JIT compiles each height as its own copy of the one body.</summary>
internal interface ITileRows
{
    static abstract int Count { get; }
}

internal readonly struct Rows1 : ITileRows { public static int Count => 1; }
internal readonly struct Rows2 : ITileRows { public static int Count => 2; }
internal readonly struct Rows3 : ITileRows { public static int Count => 3; }
internal readonly struct Rows4 : ITileRows { public static int Count => 4; }
internal readonly struct Rows5 : ITileRows { public static int Count => 5; }
internal readonly struct Rows6 : ITileRows { public static int Count => 6; }
internal readonly struct Rows7 : ITileRows { public static int Count => 7; }
internal readonly struct Rows8 : ITileRows { public static int Count => 8; }
internal readonly struct Rows9 : ITileRows { public static int Count => 9; }
internal readonly struct Rows10 : ITileRows { public static int Count => 10; }
internal readonly struct Rows11 : ITileRows { public static int Count => 11; }
internal readonly struct Rows12 : ITileRows { public static int Count => 12; }
