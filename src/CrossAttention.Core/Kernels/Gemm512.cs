// One method per tile height with every accumulator its own local, so the JIT keeps them in registers.
// The methods were written out by a throwaway generator and are kept as ordinary code.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>Vector512 micro-kernels: tiles of up to 12 rows × 32 columns (24 zmm accumulators), one broadcast x value per row and k.</summary>
internal static unsafe class Gemm512
{
    /// <summary>Columns one tile covers; a 32-wide panel takes 1.</summary>
    public const int TileWidth = 32;
    /// <summary>Rows one tile covers.</summary>
    public const int TileHeight = 12;

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
                    case 12: Rows12(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 11: Rows11(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 10: Rows10(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 9: Rows9(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 8: Rows8(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
                    case 7: Rows7(xr, rowStride, kStride, wc, kc, yr, ldy, initC); break;
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
        Vector512<float> c0_0, c0_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows3(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            x0 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows5(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows6(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows7(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows8(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
            c7_0 = b0; c7_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
            c7_0 = Vector512.Load((y + 7 * ldy)); c7_1 = Vector512.Load((y + 7 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            a = Vector512.Create(x4[r3]); c7_0 = Vector512.FusedMultiplyAdd(a, w0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a, w1, c7_1);
            x0 += kStride; x4 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
        c7_0.Store((y + 7 * ldy)); c7_1.Store((y + 7 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows9(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        float* x8 = x4 + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1, c8_0, c8_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
            c7_0 = b0; c7_1 = b1;
            c8_0 = b0; c8_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
            c7_0 = Vector512.Load((y + 7 * ldy)); c7_1 = Vector512.Load((y + 7 * ldy) + 16);
            c8_0 = Vector512.Load((y + 8 * ldy)); c8_1 = Vector512.Load((y + 8 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            a = Vector512.Create(x4[r3]); c7_0 = Vector512.FusedMultiplyAdd(a, w0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a, w1, c7_1);
            a = Vector512.Create(x8[0]); c8_0 = Vector512.FusedMultiplyAdd(a, w0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a, w1, c8_1);
            x0 += kStride; x4 += kStride; x8 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
        c7_0.Store((y + 7 * ldy)); c7_1.Store((y + 7 * ldy) + 16);
        c8_0.Store((y + 8 * ldy)); c8_1.Store((y + 8 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows10(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        float* x8 = x4 + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1, c8_0, c8_1, c9_0, c9_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
            c7_0 = b0; c7_1 = b1;
            c8_0 = b0; c8_1 = b1;
            c9_0 = b0; c9_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
            c7_0 = Vector512.Load((y + 7 * ldy)); c7_1 = Vector512.Load((y + 7 * ldy) + 16);
            c8_0 = Vector512.Load((y + 8 * ldy)); c8_1 = Vector512.Load((y + 8 * ldy) + 16);
            c9_0 = Vector512.Load((y + 9 * ldy)); c9_1 = Vector512.Load((y + 9 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            a = Vector512.Create(x4[r3]); c7_0 = Vector512.FusedMultiplyAdd(a, w0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a, w1, c7_1);
            a = Vector512.Create(x8[0]); c8_0 = Vector512.FusedMultiplyAdd(a, w0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a, w1, c8_1);
            a = Vector512.Create(x8[r1]); c9_0 = Vector512.FusedMultiplyAdd(a, w0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a, w1, c9_1);
            x0 += kStride; x4 += kStride; x8 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
        c7_0.Store((y + 7 * ldy)); c7_1.Store((y + 7 * ldy) + 16);
        c8_0.Store((y + 8 * ldy)); c8_1.Store((y + 8 * ldy) + 16);
        c9_0.Store((y + 9 * ldy)); c9_1.Store((y + 9 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows11(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        float* x8 = x4 + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1, c8_0, c8_1, c9_0, c9_1, c10_0, c10_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
            c7_0 = b0; c7_1 = b1;
            c8_0 = b0; c8_1 = b1;
            c9_0 = b0; c9_1 = b1;
            c10_0 = b0; c10_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
            c7_0 = Vector512.Load((y + 7 * ldy)); c7_1 = Vector512.Load((y + 7 * ldy) + 16);
            c8_0 = Vector512.Load((y + 8 * ldy)); c8_1 = Vector512.Load((y + 8 * ldy) + 16);
            c9_0 = Vector512.Load((y + 9 * ldy)); c9_1 = Vector512.Load((y + 9 * ldy) + 16);
            c10_0 = Vector512.Load((y + 10 * ldy)); c10_1 = Vector512.Load((y + 10 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            a = Vector512.Create(x4[r3]); c7_0 = Vector512.FusedMultiplyAdd(a, w0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a, w1, c7_1);
            a = Vector512.Create(x8[0]); c8_0 = Vector512.FusedMultiplyAdd(a, w0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a, w1, c8_1);
            a = Vector512.Create(x8[r1]); c9_0 = Vector512.FusedMultiplyAdd(a, w0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a, w1, c9_1);
            a = Vector512.Create(x8[r2]); c10_0 = Vector512.FusedMultiplyAdd(a, w0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a, w1, c10_1);
            x0 += kStride; x4 += kStride; x8 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
        c7_0.Store((y + 7 * ldy)); c7_1.Store((y + 7 * ldy) + 16);
        c8_0.Store((y + 8 * ldy)); c8_1.Store((y + 8 * ldy) + 16);
        c9_0.Store((y + 9 * ldy)); c9_1.Store((y + 9 * ldy) + 16);
        c10_0.Store((y + 10 * ldy)); c10_1.Store((y + 10 * ldy) + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows12(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        float* x4 = x + 4 * rowStride;
        float* x8 = x4 + 4 * rowStride;
        nint r1 = rowStride;
        nint r2 = 2 * rowStride;
        nint r3 = 3 * rowStride;
        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1, c8_0, c8_1, c9_0, c9_1, c10_0, c10_1, c11_0, c11_1;
        if (init != null)
        {
            Vector512<float> b0 = Vector512.Load(init);
            Vector512<float> b1 = Vector512.Load(init + 16);
            c0_0 = b0; c0_1 = b1;
            c1_0 = b0; c1_1 = b1;
            c2_0 = b0; c2_1 = b1;
            c3_0 = b0; c3_1 = b1;
            c4_0 = b0; c4_1 = b1;
            c5_0 = b0; c5_1 = b1;
            c6_0 = b0; c6_1 = b1;
            c7_0 = b0; c7_1 = b1;
            c8_0 = b0; c8_1 = b1;
            c9_0 = b0; c9_1 = b1;
            c10_0 = b0; c10_1 = b1;
            c11_0 = b0; c11_1 = b1;
        }
        else
        {
            c0_0 = Vector512.Load(y); c0_1 = Vector512.Load(y + 16);
            c1_0 = Vector512.Load((y + 1 * ldy)); c1_1 = Vector512.Load((y + 1 * ldy) + 16);
            c2_0 = Vector512.Load((y + 2 * ldy)); c2_1 = Vector512.Load((y + 2 * ldy) + 16);
            c3_0 = Vector512.Load((y + 3 * ldy)); c3_1 = Vector512.Load((y + 3 * ldy) + 16);
            c4_0 = Vector512.Load((y + 4 * ldy)); c4_1 = Vector512.Load((y + 4 * ldy) + 16);
            c5_0 = Vector512.Load((y + 5 * ldy)); c5_1 = Vector512.Load((y + 5 * ldy) + 16);
            c6_0 = Vector512.Load((y + 6 * ldy)); c6_1 = Vector512.Load((y + 6 * ldy) + 16);
            c7_0 = Vector512.Load((y + 7 * ldy)); c7_1 = Vector512.Load((y + 7 * ldy) + 16);
            c8_0 = Vector512.Load((y + 8 * ldy)); c8_1 = Vector512.Load((y + 8 * ldy) + 16);
            c9_0 = Vector512.Load((y + 9 * ldy)); c9_1 = Vector512.Load((y + 9 * ldy) + 16);
            c10_0 = Vector512.Load((y + 10 * ldy)); c10_1 = Vector512.Load((y + 10 * ldy) + 16);
            c11_0 = Vector512.Load((y + 11 * ldy)); c11_1 = Vector512.Load((y + 11 * ldy) + 16);
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> w0 = Vector512.Load(w);
            Vector512<float> w1 = Vector512.Load(w + 16);
            Vector512<float> a;
            a = Vector512.Create(x0[0]); c0_0 = Vector512.FusedMultiplyAdd(a, w0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a, w1, c0_1);
            a = Vector512.Create(x0[r1]); c1_0 = Vector512.FusedMultiplyAdd(a, w0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a, w1, c1_1);
            a = Vector512.Create(x0[r2]); c2_0 = Vector512.FusedMultiplyAdd(a, w0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a, w1, c2_1);
            a = Vector512.Create(x0[r3]); c3_0 = Vector512.FusedMultiplyAdd(a, w0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a, w1, c3_1);
            a = Vector512.Create(x4[0]); c4_0 = Vector512.FusedMultiplyAdd(a, w0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a, w1, c4_1);
            a = Vector512.Create(x4[r1]); c5_0 = Vector512.FusedMultiplyAdd(a, w0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a, w1, c5_1);
            a = Vector512.Create(x4[r2]); c6_0 = Vector512.FusedMultiplyAdd(a, w0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a, w1, c6_1);
            a = Vector512.Create(x4[r3]); c7_0 = Vector512.FusedMultiplyAdd(a, w0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a, w1, c7_1);
            a = Vector512.Create(x8[0]); c8_0 = Vector512.FusedMultiplyAdd(a, w0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a, w1, c8_1);
            a = Vector512.Create(x8[r1]); c9_0 = Vector512.FusedMultiplyAdd(a, w0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a, w1, c9_1);
            a = Vector512.Create(x8[r2]); c10_0 = Vector512.FusedMultiplyAdd(a, w0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a, w1, c10_1);
            a = Vector512.Create(x8[r3]); c11_0 = Vector512.FusedMultiplyAdd(a, w0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a, w1, c11_1);
            x0 += kStride; x4 += kStride; x8 += kStride; w += 32;
        }
        c0_0.Store(y); c0_1.Store(y + 16);
        c1_0.Store((y + 1 * ldy)); c1_1.Store((y + 1 * ldy) + 16);
        c2_0.Store((y + 2 * ldy)); c2_1.Store((y + 2 * ldy) + 16);
        c3_0.Store((y + 3 * ldy)); c3_1.Store((y + 3 * ldy) + 16);
        c4_0.Store((y + 4 * ldy)); c4_1.Store((y + 4 * ldy) + 16);
        c5_0.Store((y + 5 * ldy)); c5_1.Store((y + 5 * ldy) + 16);
        c6_0.Store((y + 6 * ldy)); c6_1.Store((y + 6 * ldy) + 16);
        c7_0.Store((y + 7 * ldy)); c7_1.Store((y + 7 * ldy) + 16);
        c8_0.Store((y + 8 * ldy)); c8_1.Store((y + 8 * ldy) + 16);
        c9_0.Store((y + 9 * ldy)); c9_1.Store((y + 9 * ldy) + 16);
        c10_0.Store((y + 10 * ldy)); c10_1.Store((y + 10 * ldy) + 16);
        c11_0.Store((y + 11 * ldy)); c11_1.Store((y + 11 * ldy) + 16);
    }
}
