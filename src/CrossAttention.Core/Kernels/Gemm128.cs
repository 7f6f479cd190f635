// One method per tile height with every accumulator its own local, so the JIT keeps them in registers.
// The methods were written out by a throwaway generator and are kept as ordinary code.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>Vector128 micro-kernels: tiles of up to 6 rows × 8 columns (12 xmm accumulators).</summary>
internal static unsafe class Gemm128
{
    /// <summary>Columns one tile covers; a 32-wide panel takes 4.</summary>
    public const int TileWidth = 8;
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
        Vector128<float> c0_0, c0_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
        }
        Vector128<float> d0_0 = Vector128<float>.Zero, d0_1 = Vector128<float>.Zero;
        // Two independent sets of accumulators: with few rows one set alone is bound by FMA latency.
        int k = 0;
        for (; k + 1 < kc; k += 2)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> u0 = Vector128.Load(w + 32);
            Vector128<float> u1 = Vector128.Load(w + 36);
            Vector128<float> a0 = Vector128.Create(x0[0]);
            Vector128<float> e0 = Vector128.Create(x0[kStride]);
            c0_0 = Vector128.FusedMultiplyAdd(a0, w0, c0_0);
            c0_1 = Vector128.FusedMultiplyAdd(a0, w1, c0_1);
            d0_0 = Vector128.FusedMultiplyAdd(e0, u0, d0_0);
            d0_1 = Vector128.FusedMultiplyAdd(e0, u1, d0_1);
            x0 += 2 * kStride; w += 64;
        }
        if (k < kc)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a0 = Vector128.Create(x0[0]);
            c0_0 = Vector128.FusedMultiplyAdd(a0, w0, c0_0);
            c0_1 = Vector128.FusedMultiplyAdd(a0, w1, c0_1);
        }
        c0_0 += d0_0; c0_1 += d0_1;
        c0_0.Store(y); c0_1.Store(y + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        Vector128<float> c0_0, c0_1, c1_0, c1_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
            c1_0 = Vector128.Load((y + 1 * ldy)); c1_1 = Vector128.Load((y + 1 * ldy) + 4);
        }
        Vector128<float> d0_0 = Vector128<float>.Zero, d0_1 = Vector128<float>.Zero, d1_0 = Vector128<float>.Zero, d1_1 = Vector128<float>.Zero;
        // Two independent sets of accumulators: with few rows one set alone is bound by FMA latency.
        int k = 0;
        for (; k + 1 < kc; k += 2)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> u0 = Vector128.Load(w + 32);
            Vector128<float> u1 = Vector128.Load(w + 36);
            Vector128<float> a0 = Vector128.Create(x0[0]);
            Vector128<float> e0 = Vector128.Create(x0[kStride]);
            c0_0 = Vector128.FusedMultiplyAdd(a0, w0, c0_0);
            c0_1 = Vector128.FusedMultiplyAdd(a0, w1, c0_1);
            d0_0 = Vector128.FusedMultiplyAdd(e0, u0, d0_0);
            d0_1 = Vector128.FusedMultiplyAdd(e0, u1, d0_1);
            Vector128<float> a1 = Vector128.Create(x0[r1]);
            Vector128<float> e1 = Vector128.Create(x0[kStride + r1]);
            c1_0 = Vector128.FusedMultiplyAdd(a1, w0, c1_0);
            c1_1 = Vector128.FusedMultiplyAdd(a1, w1, c1_1);
            d1_0 = Vector128.FusedMultiplyAdd(e1, u0, d1_0);
            d1_1 = Vector128.FusedMultiplyAdd(e1, u1, d1_1);
            x0 += 2 * kStride; w += 64;
        }
        if (k < kc)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a0 = Vector128.Create(x0[0]);
            c0_0 = Vector128.FusedMultiplyAdd(a0, w0, c0_0);
            c0_1 = Vector128.FusedMultiplyAdd(a0, w1, c0_1);
            Vector128<float> a1 = Vector128.Create(x0[r1]);
            c1_0 = Vector128.FusedMultiplyAdd(a1, w0, c1_0);
            c1_1 = Vector128.FusedMultiplyAdd(a1, w1, c1_1);
        }
        c0_0 += d0_0; c0_1 += d0_1;
        c1_0 += d1_0; c1_1 += d1_1;
        c0_0.Store(y); c0_1.Store(y + 4);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        Vector128<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
            c1_0 = Vector128.Load((y + 1 * ldy)); c1_1 = Vector128.Load((y + 1 * ldy) + 4);
            c2_0 = Vector128.Load((y + 2 * ldy)); c2_1 = Vector128.Load((y + 2 * ldy) + 4);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a;
            a = Vector128.Create(x0[0]); c0_0 = Vector128.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector128.Create(x0[r1]); c1_0 = Vector128.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector128.Create(x0[r2]); c2_0 = Vector128.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(a, w1, c2_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 4);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 4);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector128<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
            c1_0 = Vector128.Load((y + 1 * ldy)); c1_1 = Vector128.Load((y + 1 * ldy) + 4);
            c2_0 = Vector128.Load((y + 2 * ldy)); c2_1 = Vector128.Load((y + 2 * ldy) + 4);
            c3_0 = Vector128.Load((y + 3 * ldy)); c3_1 = Vector128.Load((y + 3 * ldy) + 4);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a;
            a = Vector128.Create(x0[0]); c0_0 = Vector128.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector128.Create(x0[r1]); c1_0 = Vector128.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector128.Create(x0[r2]); c2_0 = Vector128.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector128.Create(x0[r3]); c3_0 = Vector128.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector128.FusedMultiplyAdd(a, w1, c3_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 4);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 4);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 4);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows5(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector128<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
            c1_0 = Vector128.Load((y + 1 * ldy)); c1_1 = Vector128.Load((y + 1 * ldy) + 4);
            c2_0 = Vector128.Load((y + 2 * ldy)); c2_1 = Vector128.Load((y + 2 * ldy) + 4);
            c3_0 = Vector128.Load((y + 3 * ldy)); c3_1 = Vector128.Load((y + 3 * ldy) + 4);
            c4_0 = Vector128.Load((y + 4 * ldy)); c4_1 = Vector128.Load((y + 4 * ldy) + 4);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a;
            a = Vector128.Create(x0[0]); c0_0 = Vector128.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector128.Create(x0[r1]); c1_0 = Vector128.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector128.Create(x0[r2]); c2_0 = Vector128.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector128.Create(x0[r3]); c3_0 = Vector128.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector128.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector128.Create(x4[0]); c4_0 = Vector128.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector128.FusedMultiplyAdd(a, w1, c4_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 4);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 4);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 4);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 4);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector128<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
        if (init != null)
        {
            Vector128<float> b0 = Vector128.Load(init);
            Vector128<float> b1 = Vector128.Load(init + 4);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
        }
        else
        {
            c0_0 = Vector128.Load(y); c0_1 = Vector128.Load(y + 4);
            c1_0 = Vector128.Load((y + 1 * ldy)); c1_1 = Vector128.Load((y + 1 * ldy) + 4);
            c2_0 = Vector128.Load((y + 2 * ldy)); c2_1 = Vector128.Load((y + 2 * ldy) + 4);
            c3_0 = Vector128.Load((y + 3 * ldy)); c3_1 = Vector128.Load((y + 3 * ldy) + 4);
            c4_0 = Vector128.Load((y + 4 * ldy)); c4_1 = Vector128.Load((y + 4 * ldy) + 4);
            c5_0 = Vector128.Load((y + 5 * ldy)); c5_1 = Vector128.Load((y + 5 * ldy) + 4);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector128<float> w0 = Vector128.Load(w);
            Vector128<float> w1 = Vector128.Load(w + 4);
            Vector128<float> a;
            a = Vector128.Create(x0[0]); c0_0 = Vector128.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector128.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector128.Create(x0[r1]); c1_0 = Vector128.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector128.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector128.Create(x0[r2]); c2_0 = Vector128.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector128.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector128.Create(x0[r3]); c3_0 = Vector128.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector128.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector128.Create(x4[0]); c4_0 = Vector128.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector128.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector128.Create(x4[r1]); c5_0 = Vector128.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector128.FusedMultiplyAdd(a, w1, c5_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 4);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 4);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 4);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 4);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 4);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 4);
    }
}
