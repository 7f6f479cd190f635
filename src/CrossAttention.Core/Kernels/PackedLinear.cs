using System.Runtime.CompilerServices;
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// An nn.Linear (y = x·Wᵀ + b, W [out, in]) whose weights are packed once, at load, into the layout the
/// projection kernel streams.
/// </summary>
/// <remarks>
/// Layout: W is cut into panels of <see cref="PanelWidth"/> output columns, each stored k-major
/// ([panels, in, 32], the last panel zero-padded), so the micro-kernels read one panel row per k with aligned vector
/// loads and broadcast one x value per row. One micro-kernel body (<see cref="Gemm{TLanes, TVector}"/>) serves every
/// variant; the JIT specialises it per lane width and tile height, every accumulator its own local, so it keeps them
/// all in registers (checked in the disassembly: the 12×32 loop is 2 loads, 12 broadcasts and 24 FMAs with no spills).
/// <para>
/// Blocking: for many rows, x is copied per chunk of <see cref="RowChunk"/> rows into a k-major, 12-row interleaved
/// buffer (contiguous broadcasts and no cache-set conflicts between rows whose stride is a power of two), and k is
/// walked in blocks of <see cref="DepthBlock"/> so one [512, 32] weight block (64 KiB) stays cached while every row
/// block of the chunk passes over it (measured: 512 beat 256, which fits L1, by a few per cent; fewer passes over y).
/// For at most 12 rows (decode) x is read in place and the weights simply stream.
/// </para>
/// <para>
/// Threads: work items are (row chunk, panel group) pairs claimed dynamically through <see cref="KernelParallel"/>;
/// with few rows each item is one panel, so both cores stream disjoint halves of the weights.
/// </para>
/// </remarks>
public sealed unsafe class PackedLinear
{
    internal const int PanelWidth = 32;
    private const int RowBlock = 12;     // rows one packed x block interleaves: the Vector512 tile height
    private const int RowChunk = 96;     // rows of packed x whose [96, 512] depth slice (192 KiB) stays in L2
    private const int DepthBlock = 512;  // k per pass: a [512, 32] weight block (64 KiB) stays in L2, x's slice too

    // Below these a second thread costs more to wake than it saves.
    private const long ParallelMinWeightBytes = 256 * 1024;
    private const long ParallelMinFlops = 4_000_000;

    private static readonly float[] ZeroStorage = GC.AllocateArray<float>(PanelWidth + 16, pinned: true);
    private static readonly float* Zeros = AlignTo64(ZeroStorage); // the init of a panel without bias

    private readonly float[] _packedStorage; // pinned; holds the panels from a 64-byte aligned offset
    private readonly float* _panels;         // [panels, in, 32]
    private readonly float[]? _biasStorage;  // pinned [panels·32], zero-padded
    private readonly float* _bias;
    private readonly int _panelCount;

    private PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _panelCount = (outFeatures + PanelWidth - 1) / PanelWidth;
        long panelFloats = (long)_panelCount * PanelWidth * inFeatures;
        if (panelFloats > Array.MaxLength - 16)
            throw new ArgumentException("The weights are too large to pack.", nameof(weight));

        _packedStorage = GC.AllocateArray<float>((int)panelFloats + 16, pinned: true);
        _panels = AlignTo64(_packedStorage);
        for (int o = 0; o < outFeatures; o++)
        {
            ReadOnlySpan<float> row = weight.Slice(o * inFeatures, inFeatures);
            float* panel = _panels + (long)(o / PanelWidth) * PanelWidth * inFeatures + o % PanelWidth;
            for (int k = 0; k < inFeatures; k++) panel[(long)k * PanelWidth] = row[k];
        }

        if (!bias.IsEmpty)
        {
            _biasStorage = GC.AllocateArray<float>(_panelCount * PanelWidth + 16, pinned: true);
            _bias = AlignTo64(_biasStorage);
            bias.CopyTo(new Span<float>(_bias, outFeatures));
        }
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }
    public bool HasBias => _biasStorage is not null;

    /// <summary>Bytes held by the packed weights and bias (padding included).</summary>
    public long Bytes => sizeof(float) * ((long)_packedStorage.Length + (_biasStorage?.Length ?? 0));

    /// <param name="weight">[outFeatures, inFeatures]</param>
    /// <param name="bias">[outFeatures], or empty for none</param>
    public static PackedLinear Pack(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<float> bias)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"weight has {weight.Length} values, expected {outFeatures}×{inFeatures}.", nameof(weight));
        if (!bias.IsEmpty && bias.Length != outFeatures)
            throw new ArgumentException($"bias has {bias.Length} values, expected {outFeatures}.", nameof(bias));
        return new PackedLinear(weight, bias, outFeatures, inFeatures);
    }

    /// <summary>y [rows, out] = x [rows, in]·Wᵀ + b.</summary>
    /// <param name="maxThreads">how many threads the call may use (1 = the caller's only)</param>
    public void Apply(ReadOnlySpan<float> x, int rows, Span<float> y, KernelVariant variant, int maxThreads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (x.Length < (long)rows * InFeatures) ThrowTooShort(nameof(x));
        if (y.Length < (long)rows * OutFeatures) ThrowTooShort(nameof(y));
        if (rows == 0) return;

        bool packRows = rows > RowBlock;
        int threads = Math.Clamp(maxThreads, 1, KernelParallel.MaxThreads);
        long flops = 2L * rows * InFeatures * OutFeatures;
        long weightBytes = sizeof(float) * (long)_panelCount * PanelWidth * InFeatures;
        if (flops < ParallelMinFlops && weightBytes < ParallelMinWeightBytes) threads = 1;
        // Row chunks of whole row blocks, at most RowChunk rows, their sizes differing by one block at most, and as many
        // as a multiple of the threads: 1024 rows made 10 chunks of 96 and one of 64, so one thread ran six of the
        // eleven and the other waited (now 12 of 84 or 96 rows).
        int rowBlocks = (rows + RowBlock - 1) / RowBlock;
        int rowChunks = (rowBlocks + RowChunk / RowBlock - 1) / (RowChunk / RowBlock);
        if (threads > 1 && packRows) rowChunks = Math.Min(rowBlocks, (rowChunks + threads - 1) / threads * threads);

        int panelGroups = 1;
        if (threads > 1)
        {
            // Enough items to balance the threads; when x is packed per item, keep ≥ 4 panels per item so the
            // packing stays small next to the multiply.
            panelGroups = packRows
                ? Math.Clamp((4 * threads + rowChunks - 1) / rowChunks, 1, Math.Max(1, _panelCount / 4))
                : _panelCount;
        }
        int panelsPerGroup = (_panelCount + panelGroups - 1) / panelGroups;
        panelGroups = (_panelCount + panelsPerGroup - 1) / panelsPerGroup;

        fixed (float* px = x, py = y)
        {
            var work = new Work
            {
                X = px, Y = py, Rows = rows, RowBlocks = rowBlocks, RowChunks = rowChunks, In = InFeatures, Out = OutFeatures,
                Panels = _panels, Bias = _bias, PanelCount = _panelCount,
                PanelGroups = panelGroups, PanelsPerGroup = panelsPerGroup, PackRows = packRows,
                Kernel = KernelVariants.Resolve(variant) switch
                {
                    KernelVariant.Vector512 => &Gemm<Lanes512, Vector512<float>>.Panel,
                    KernelVariant.Vector256 => &Gemm<Lanes256, Vector256<float>>.Panel,
                    KernelVariant.Vector128 => &Gemm<Lanes128, Vector128<float>>.Panel,
                    _ => &Gemm<LanesScalar, float>.Panel,
                },
            };
            KernelParallel.For(rowChunks * panelGroups, threads, ref work);
        }
    }

    /// <inheritdoc cref="Apply(ReadOnlySpan{float}, int, Span{float}, KernelVariant, int)"/>
    public void Apply(ReadOnlySpan<float> x, int rows, Span<float> y, int maxThreads = 1) =>
        Apply(x, rows, y, KernelVariants.Best, maxThreads);

    private static float* AlignTo64(float[] pinned)
    {
        float* p = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref pinned[0]);
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    private static void ThrowTooShort(string name) => throw new ArgumentException("Buffer is too short for the shape.", name);

    /// <summary>
    /// One call's work; item i is row chunk i / PanelGroups over panel group i % PanelGroups. Chunk c holds row blocks
    /// [c·RowBlocks / RowChunks, (c + 1)·RowBlocks / RowChunks).
    /// </summary>
    private struct Work : IParallelBody
    {
        public float* X, Y, Panels, Bias;
        public int Rows, RowBlocks, RowChunks, In, Out, PanelCount, PanelGroups, PanelsPerGroup;
        public bool PackRows;
        public delegate*<int, float*, nint, nint, float*, int, float*, nint, float*, void> Kernel;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int index)
        {
            int chunk = index / PanelGroups;
            int rowStart = (int)((long)chunk * RowBlocks / RowChunks) * RowBlock;
            int chunkRows = Math.Min((int)((long)(chunk + 1) * RowBlocks / RowChunks) * RowBlock, Rows) - rowStart;
            int firstPanel = index % PanelGroups * PanelsPerGroup;
            int endPanel = Math.Min(PanelCount, firstPanel + PanelsPerGroup);
            int blocks = (chunkRows + RowBlock - 1) / RowBlock;

            if (!PackRows)
            {
                Multiply(X + (nint)rowStart * In, rowStride: In, kStride: 1, depthBlock: In,
                    rowStart, chunkRows, blocks, firstPanel, endPanel);
                return;
            }
            float[] rented = ArrayPool<float>.Shared.Rent(blocks * RowBlock * In);
            try
            {
                fixed (float* packed = rented)
                {
                    PackChunk(X + (nint)rowStart * In, chunkRows, In, packed);
                    Multiply(packed, rowStride: 1, kStride: RowBlock, depthBlock: DepthBlock,
                        rowStart, chunkRows, blocks, firstPanel, endPanel);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }

        // x(i, k) of the chunk sits at xs + (i / 12)·12·in + (i % 12)·rowStride + k·kStride: a block of 12 rows is
        // 12·in floats further on both in place and packed.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Multiply(float* xs, nint rowStride, nint kStride, int depthBlock,
            int rowStart, int chunkRows, int blocks, int firstPanel, int endPanel)
        {
            // The zero-padded last panel computes into a scratch tile, kept across depth blocks, then copies its columns.
            int tailColumns = Out - (PanelCount - 1) * PanelWidth;
            bool hasTail = endPanel == PanelCount && tailColumns < PanelWidth;
            float* tail = stackalloc float[hasTail ? RowChunk * PanelWidth : 1];

            for (int k0 = 0; k0 < In; k0 += depthBlock)
            {
                int kc = Math.Min(depthBlock, In - k0);
                for (int p = firstPanel; p < endPanel; p++)
                {
                    float* w = Panels + ((nint)p * In + k0) * PanelWidth;
                    float* init = k0 > 0 ? null : Bias != null ? Bias + (nint)p * PanelWidth : Zeros;
                    bool isTail = hasTail && p == PanelCount - 1;
                    float* y = isTail ? tail : Y + (nint)rowStart * Out + (nint)p * PanelWidth;
                    nint ldy = isTail ? PanelWidth : Out;
                    for (int b = 0; b < blocks; b++)
                    {
                        int r = Math.Min(RowBlock, chunkRows - b * RowBlock);
                        Kernel(r, xs + (nint)b * RowBlock * In + k0 * kStride, rowStride, kStride, w, kc, y + b * RowBlock * ldy, ldy, init);
                    }
                }
            }

            if (hasTail)
            {
                float* yTail = Y + (nint)rowStart * Out + (nint)(PanelCount - 1) * PanelWidth;
                for (int i = 0; i < chunkRows; i++)
                    new ReadOnlySpan<float>(tail + i * PanelWidth, tailColumns).CopyTo(new Span<float>(yTail + (nint)i * Out, tailColumns));
            }
        }

        // x [rows, in] → [blocks, in, 12]: k-major with the 12 rows of a block side by side.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void PackChunk(float* x, int rows, int inFeatures, float* packed)
        {
            int i = 0;
            if (Sse.IsSupported)
            {
                // 4×4 transposes: four rows (always in one block, as 4 divides 12) times four k per step.
                for (; i + 4 <= rows; i += 4)
                {
                    float* s0 = x + (nint)i * inFeatures, s1 = s0 + inFeatures, s2 = s1 + inFeatures, s3 = s2 + inFeatures;
                    float* dst = packed + (nint)(i / RowBlock) * RowBlock * inFeatures + i % RowBlock;
                    int k = 0;
                    for (; k + 4 <= inFeatures; k += 4)
                    {
                        Vector128<float> r0 = Sse.LoadVector128(s0 + k), r1 = Sse.LoadVector128(s1 + k);
                        Vector128<float> r2 = Sse.LoadVector128(s2 + k), r3 = Sse.LoadVector128(s3 + k);
                        Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackLow(r2, r3);   // k, k+1
                        Vector128<float> t2 = Sse.UnpackHigh(r0, r1), t3 = Sse.UnpackHigh(r2, r3); // k+2, k+3
                        float* d = dst + (nint)k * RowBlock;
                        Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
                        Sse.Store(d + RowBlock, Sse.MoveHighToLow(t1, t0));
                        Sse.Store(d + 2 * RowBlock, Sse.MoveLowToHigh(t2, t3));
                        Sse.Store(d + 3 * RowBlock, Sse.MoveHighToLow(t3, t2));
                    }
                    for (; k < inFeatures; k++)
                    {
                        float* d = dst + (nint)k * RowBlock;
                        d[0] = s0[k]; d[1] = s1[k]; d[2] = s2[k]; d[3] = s3[k];
                    }
                }
            }
            for (; i < rows; i++)
            {
                float* src = x + (nint)i * inFeatures;
                float* dst = packed + (nint)(i / RowBlock) * RowBlock * inFeatures + i % RowBlock;
                for (int k = 0; k < inFeatures; k++) dst[(nint)k * RowBlock] = src[k];
            }
        }
    }
}
