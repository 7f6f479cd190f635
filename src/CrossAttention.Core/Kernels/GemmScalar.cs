// One method per tile height with every accumulator its own local, so the JIT keeps them in registers.
// The methods were written out by a throwaway generator and are kept as ordinary code.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>Scalar micro-kernels: tiles of up to 2 rows × 4 columns, for CPUs without vector units (and as the readable version).</summary>
internal static unsafe class GemmScalar
{
    /// <summary>Columns one tile covers; a 32-wide panel takes 8.</summary>
    public const int TileWidth = 4;
    /// <summary>Rows one tile covers.</summary>
    public const int TileHeight = 2;

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
        float c0_0, c0_1, c0_2, c0_3;
        if (init != null)
        {
            float b0 = init[0];
            float b1 = init[1];
            float b2 = init[2];
            float b3 = init[3];
            c0_0 = b0; c0_1 = b1; c0_2 = b2; c0_3 = b3;
        }
        else
        {
            c0_0 = y[0]; c0_1 = y[1]; c0_2 = y[2]; c0_3 = y[3];
        }
        for (int k = 0; k < kc; k++)
        {
            float w0 = w[0];
            float w1 = w[1];
            float w2 = w[2];
            float w3 = w[3];
            float a;
            a = x0[0]; c0_0 = c0_0 + a * w0; c0_1 = c0_1 + a * w1; c0_2 = c0_2 + a * w2; c0_3 = c0_3 + a * w3;
            x0 += kStride; w += 32;
        }
        y[0] = c0_0; y[1] = c0_1; y[2] = c0_2; y[3] = c0_3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows2(float* x, nint rowStride, nint kStride, float* w, int kc, float* y, nint ldy, float* init)
    {
        float* x0 = x;
        nint r1 = rowStride;
        float c0_0, c0_1, c0_2, c0_3, c1_0, c1_1, c1_2, c1_3;
        if (init != null)
        {
            float b0 = init[0];
            float b1 = init[1];
            float b2 = init[2];
            float b3 = init[3];
            c0_0 = b0; c0_1 = b1; c0_2 = b2; c0_3 = b3;
            c1_0 = b0; c1_1 = b1; c1_2 = b2; c1_3 = b3;
        }
        else
        {
            c0_0 = y[0]; c0_1 = y[1]; c0_2 = y[2]; c0_3 = y[3];
            c1_0 = (y + 1 * ldy)[0]; c1_1 = (y + 1 * ldy)[1]; c1_2 = (y + 1 * ldy)[2]; c1_3 = (y + 1 * ldy)[3];
        }
        for (int k = 0; k < kc; k++)
        {
            float w0 = w[0];
            float w1 = w[1];
            float w2 = w[2];
            float w3 = w[3];
            float a;
            a = x0[0]; c0_0 = c0_0 + a * w0; c0_1 = c0_1 + a * w1; c0_2 = c0_2 + a * w2; c0_3 = c0_3 + a * w3;
            a = x0[r1]; c1_0 = c1_0 + a * w0; c1_1 = c1_1 + a * w1; c1_2 = c1_2 + a * w2; c1_3 = c1_3 + a * w3;
            x0 += kStride; w += 32;
        }
        y[0] = c0_0; y[1] = c0_1; y[2] = c0_2; y[3] = c0_3;
        (y + 1 * ldy)[0] = c1_0; (y + 1 * ldy)[1] = c1_1; (y + 1 * ldy)[2] = c1_2; (y + 1 * ldy)[3] = c1_3;
    }
}
