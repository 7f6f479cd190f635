// One method per tile height with every accumulator its own local, so the JIT keeps them in registers.
// The methods were written out by a throwaway generator and are kept as ordinary code.
using System.Runtime.CompilerServices;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// Vector256 and Vector128 micro-kernels in one body that the JIT specialises per width (TLanes is a struct): tiles of
/// up to 6 rows × two vectors, 12 accumulators, so they fit AVX2's 16 registers.
/// </summary>
internal static unsafe class GemmNarrow<TLanes, TVector>
    where TLanes : struct, IFloatLanes<TVector>
    where TVector : struct
{
    /// <summary>Floats in one vector: half a tile row.</summary>
    private static int W => TLanes.Count;

    /// <summary>Columns one tile covers (two vectors); a 32-wide panel takes 32 / TileWidth.</summary>
    public static int TileWidth => 2 * TLanes.Count;

    /// <summary>Rows one tile covers.</summary>
    public const int TileHeight = 6;

    /// <summary>
    /// y [rows, 32] = init + x [rows, kc]·w [kc, 32] (init = the 32 values in <paramref name="init"/> for every row),
    /// or y += x·w when init is null. rows ≤ 12; x(i, k) sits at x + i·rowStride + k·kStride; w is one panel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Panel(int rows, float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        for (int c = 0; c < 32; c += TileWidth)
        {
            float* initC = init == null ? null : init + c;
            for (int r = 0; r < rows; r += TileHeight)
            {
                float* xr = x + r * rowStride, yr = y + r * ldy + c, wc = w + c;
                switch (Math.Min(rows - r, TileHeight))
                {
                    case 6: Rows6(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 5: Rows5(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 4: Rows4(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 3: Rows3(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 2: Rows2(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 1: Rows1(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows1(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        TVector c0_0, c0_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            x0 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        TVector c0_0, c0_1, c1_0, c1_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            c1_0 = TLanes.Load((y + 1 * ldy)); c1_1 = TLanes.Load((y + 1 * ldy) + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1);
            x0 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        TLanes.Store(c1_0, (y + 1 * ldy)); TLanes.Store(c1_1, (y + 1 * ldy) + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        TVector c0_0, c0_1, c1_0, c1_1, c2_0, c2_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            c1_0 = TLanes.Load((y + 1 * ldy)); c1_1 = TLanes.Load((y + 1 * ldy) + W);
            c2_0 = TLanes.Load((y + 2 * ldy)); c2_1 = TLanes.Load((y + 2 * ldy) + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1);
            a = TLanes.Broadcast(x0[r2]); c2_0 = TLanes.MultiplyAdd(a, w0, c2_0); c2_1 = TLanes.MultiplyAdd(a, w1, c2_1);
            x0 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        TLanes.Store(c1_0, (y + 1 * ldy)); TLanes.Store(c1_1, (y + 1 * ldy) + W);
        TLanes.Store(c2_0, (y + 2 * ldy)); TLanes.Store(c2_1, (y + 2 * ldy) + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        TVector c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            c1_0 = TLanes.Load((y + 1 * ldy)); c1_1 = TLanes.Load((y + 1 * ldy) + W);
            c2_0 = TLanes.Load((y + 2 * ldy)); c2_1 = TLanes.Load((y + 2 * ldy) + W);
            c3_0 = TLanes.Load((y + 3 * ldy)); c3_1 = TLanes.Load((y + 3 * ldy) + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1);
            a = TLanes.Broadcast(x0[r2]); c2_0 = TLanes.MultiplyAdd(a, w0, c2_0); c2_1 = TLanes.MultiplyAdd(a, w1, c2_1);
            a = TLanes.Broadcast(x0[r3]); c3_0 = TLanes.MultiplyAdd(a, w0, c3_0); c3_1 = TLanes.MultiplyAdd(a, w1, c3_1);
            x0 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        TLanes.Store(c1_0, (y + 1 * ldy)); TLanes.Store(c1_1, (y + 1 * ldy) + W);
        TLanes.Store(c2_0, (y + 2 * ldy)); TLanes.Store(c2_1, (y + 2 * ldy) + W);
        TLanes.Store(c3_0, (y + 3 * ldy)); TLanes.Store(c3_1, (y + 3 * ldy) + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows5(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        TVector c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            c1_0 = TLanes.Load((y + 1 * ldy)); c1_1 = TLanes.Load((y + 1 * ldy) + W);
            c2_0 = TLanes.Load((y + 2 * ldy)); c2_1 = TLanes.Load((y + 2 * ldy) + W);
            c3_0 = TLanes.Load((y + 3 * ldy)); c3_1 = TLanes.Load((y + 3 * ldy) + W);
            c4_0 = TLanes.Load((y + 4 * ldy)); c4_1 = TLanes.Load((y + 4 * ldy) + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1);
            a = TLanes.Broadcast(x0[r2]); c2_0 = TLanes.MultiplyAdd(a, w0, c2_0); c2_1 = TLanes.MultiplyAdd(a, w1, c2_1);
            a = TLanes.Broadcast(x0[r3]); c3_0 = TLanes.MultiplyAdd(a, w0, c3_0); c3_1 = TLanes.MultiplyAdd(a, w1, c3_1);
            a = TLanes.Broadcast(x4[0]); c4_0 = TLanes.MultiplyAdd(a, w0, c4_0); c4_1 = TLanes.MultiplyAdd(a, w1, c4_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        TLanes.Store(c1_0, (y + 1 * ldy)); TLanes.Store(c1_1, (y + 1 * ldy) + W);
        TLanes.Store(c2_0, (y + 2 * ldy)); TLanes.Store(c2_1, (y + 2 * ldy) + W);
        TLanes.Store(c3_0, (y + 3 * ldy)); TLanes.Store(c3_1, (y + 3 * ldy) + W);
        TLanes.Store(c4_0, (y + 4 * ldy)); TLanes.Store(c4_1, (y + 4 * ldy) + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        TVector c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
        if (init != null)
        {
            TVector b0 = TLanes.Load(init);
            TVector b1 = TLanes.Load(init + W);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
        }
        else
        {
            c0_0 = TLanes.Load(y); c0_1 = TLanes.Load(y + W);
            c1_0 = TLanes.Load((y + 1 * ldy)); c1_1 = TLanes.Load((y + 1 * ldy) + W);
            c2_0 = TLanes.Load((y + 2 * ldy)); c2_1 = TLanes.Load((y + 2 * ldy) + W);
            c3_0 = TLanes.Load((y + 3 * ldy)); c3_1 = TLanes.Load((y + 3 * ldy) + W);
            c4_0 = TLanes.Load((y + 4 * ldy)); c4_1 = TLanes.Load((y + 4 * ldy) + W);
            c5_0 = TLanes.Load((y + 5 * ldy)); c5_1 = TLanes.Load((y + 5 * ldy) + W);
        }
        for (int k = 0; k < kc; k++)
        {
            TVector w0 = TLanes.Load(w);
            TVector w1 = TLanes.Load(w + W);
            TVector a;
            a = TLanes.Broadcast(x0[0]); c0_0 = TLanes.MultiplyAdd(a, w0, c0_0); c0_1 = TLanes.MultiplyAdd(a, w1, c0_1);
            a = TLanes.Broadcast(x0[r1]); c1_0 = TLanes.MultiplyAdd(a, w0, c1_0); c1_1 = TLanes.MultiplyAdd(a, w1, c1_1);
            a = TLanes.Broadcast(x0[r2]); c2_0 = TLanes.MultiplyAdd(a, w0, c2_0); c2_1 = TLanes.MultiplyAdd(a, w1, c2_1);
            a = TLanes.Broadcast(x0[r3]); c3_0 = TLanes.MultiplyAdd(a, w0, c3_0); c3_1 = TLanes.MultiplyAdd(a, w1, c3_1);
            a = TLanes.Broadcast(x4[0]); c4_0 = TLanes.MultiplyAdd(a, w0, c4_0); c4_1 = TLanes.MultiplyAdd(a, w1, c4_1);
            a = TLanes.Broadcast(x4[r1]); c5_0 = TLanes.MultiplyAdd(a, w0, c5_0); c5_1 = TLanes.MultiplyAdd(a, w1, c5_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        TLanes.Store(c0_0, y); TLanes.Store(c0_1, y + W);
        TLanes.Store(c1_0, (y + 1 * ldy)); TLanes.Store(c1_1, (y + 1 * ldy) + W);
        TLanes.Store(c2_0, (y + 2 * ldy)); TLanes.Store(c2_1, (y + 2 * ldy) + W);
        TLanes.Store(c3_0, (y + 3 * ldy)); TLanes.Store(c3_1, (y + 3 * ldy) + W);
        TLanes.Store(c4_0, (y + 4 * ldy)); TLanes.Store(c4_1, (y + 4 * ldy) + W);
        TLanes.Store(c5_0, (y + 5 * ldy)); TLanes.Store(c5_1, (y + 5 * ldy) + W);
    }
}
