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
/// For at most 12 rows (decode) x is read in place and the weights simply stream. A single row over 16-bit panels
/// runs several panels per call (<see cref="Gemm{TLanes, TVector}.OneRowPanels"/>): eight independent chains instead
/// of the tile's two, which would otherwise limit a decode step before the memory does.
/// </para>
/// <para>
/// Element type (<see cref="ElementType"/>): the panels hold float32, float16 or bfloat16; biases stay float32. With at
/// most 12 rows (decode, memory-bound) the tiles load the narrow panels and widen in registers, so a step reads half the
/// weight bytes. With more rows each [512, 32] weight block is widened once into a float32 scratch block that every row
/// block of the chunk then reads with the float32 tiles: the conversion is paid once per block, not once per 12 rows.
/// Widening is exact, so both routes give the same bits.
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

    private readonly byte[] _packedStorage;  // pinned; holds the panels from a 64-byte aligned offset
    private readonly byte* _panels;          // [panels, in, 32] elements of ElementType
    private readonly float[]? _biasStorage;  // pinned [panels·32], zero-padded
    private readonly float* _bias;
    private readonly int _panelCount;

    private PackedLinear(KeyValueElementType elementType, ReadOnlySpan<float> bias, int outFeatures, int inFeatures)
    {
        ElementType = elementType;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _panelCount = (outFeatures + PanelWidth - 1) / PanelWidth;
        long panelBytes = (long)_panelCount * PanelWidth * inFeatures * elementType.Size();
        if (panelBytes > Array.MaxLength - 64)
            throw new ArgumentException("The weights are too large to pack.", "weight");

        _packedStorage = GC.AllocateArray<byte>((int)panelBytes + 64, pinned: true);
        _panels = (byte*)AlignTo64((byte*)Unsafe.AsPointer(ref _packedStorage[0]));

        if (!bias.IsEmpty)
        {
            _biasStorage = GC.AllocateArray<float>(_panelCount * PanelWidth + 16, pinned: true);
            _bias = AlignTo64(_biasStorage);
            bias.CopyTo(new Span<float>(_bias, outFeatures));
        }
    }

    /// <summary>W [out, in] of TStorage elements → [panels, in, 32], the padding columns left zero.</summary>
    private void PackPanels<TStorage>(ReadOnlySpan<TStorage> weight) where TStorage : unmanaged
    {
        var panels = (TStorage*)_panels;
        for (int o = 0; o < OutFeatures; o++)
        {
            ReadOnlySpan<TStorage> row = weight.Slice(o * InFeatures, InFeatures);
            TStorage* panel = panels + (long)(o / PanelWidth) * PanelWidth * InFeatures + o % PanelWidth;
            for (int k = 0; k < InFeatures; k++) panel[(long)k * PanelWidth] = row[k];
        }
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }
    public bool HasBias => _biasStorage is not null;

    /// <summary>What the weights are stored as (the bias is float32 whatever this is).</summary>
    public KeyValueElementType ElementType { get; }

    /// <summary>Bytes held by the packed weights and bias (padding included).</summary>
    public long Bytes => _packedStorage.Length + sizeof(float) * (long)(_biasStorage?.Length ?? 0);

    /// <param name="weight">[outFeatures, inFeatures]</param>
    /// <param name="bias">[outFeatures], or empty for none</param>
    /// <param name="elementType">what to store the weights as (float32 keeps them exactly; the others round to nearest even;
    /// float16 refuses, with an ArgumentException, a value it cannot hold finitely)</param>
    public static PackedLinear Pack(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<float> bias,
        KeyValueElementType elementType = KeyValueElementType.Float32)
    {
        CheckShape(weight.Length, outFeatures, inFeatures, bias);
        var packed = new PackedLinear(elementType, bias, outFeatures, inFeatures);
        if (elementType == KeyValueElementType.Float32)
        {
            packed.PackPanels(weight);
            return packed;
        }
        ushort[] narrowed = new ushort[weight.Length];
        if (elementType == KeyValueElementType.BFloat16) BFloat16Narrowing.Narrow(weight, narrowed);
        else Float16Narrowing.Narrow(weight, narrowed);
        CheckFinite(narrowed, elementType);
        packed.PackPanels<ushort>(narrowed);
        return packed;
    }

    /// <summary>
    /// Packs weights already held as float16 or bfloat16 bit patterns, as they are (no float32 detour); float16 ones must
    /// be finite.
    /// </summary>
    /// <param name="weight">[outFeatures, inFeatures] of <paramref name="elementType"/> bit patterns</param>
    /// <param name="bias">[outFeatures], or empty for none</param>
    public static PackedLinear Pack(ReadOnlySpan<ushort> weight, KeyValueElementType elementType, int outFeatures, int inFeatures,
        ReadOnlySpan<float> bias)
    {
        if (elementType is not (KeyValueElementType.Float16 or KeyValueElementType.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "16-bit weights are float16 or bfloat16.");
        CheckShape(weight.Length, outFeatures, inFeatures, bias);
        CheckFinite(weight, elementType);
        var packed = new PackedLinear(elementType, bias, outFeatures, inFeatures);
        packed.PackPanels(weight);
        return packed;
    }

    /// <summary>float16 weights must be finite: the kernels read them with a conversion that is exact for finite values only.</summary>
    private static void CheckFinite(ReadOnlySpan<ushort> weight, KeyValueElementType elementType)
    {
        if (elementType == KeyValueElementType.Float16 && SixteenBitNonFinite.Any(weight, SixteenBitNonFinite.Float16Exponent))
            ThrowNotFiniteFloat16();
    }

    private static void ThrowNotFiniteFloat16() => throw new ArgumentException(
        "weight holds a value that is not finite as float16 (beyond ±65504, or Inf/NaN); store it as bfloat16 or float32.", "weight");

    private static void CheckShape(int weightLength, int outFeatures, int inFeatures, ReadOnlySpan<float> bias)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        if (weightLength != (long)outFeatures * inFeatures)
            throw new ArgumentException($"weight has {weightLength} values, expected {outFeatures}×{inFeatures}.", "weight");
        if (!bias.IsEmpty && bias.Length != outFeatures)
            throw new ArgumentException($"bias has {bias.Length} values, expected {outFeatures}.", nameof(bias));
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
        long weightBytes = (long)ElementType.Size() * _panelCount * PanelWidth * InFeatures;
        if (flops < ParallelMinFlops && weightBytes < ParallelMinWeightBytes) threads = 1;
        // Row chunks of whole row blocks, at most RowChunk rows, their sizes differing by one block at most, and as many
        // as a multiple of the threads: 1024 rows made 10 chunks of 96 and one of 64, so one thread ran six of the
        // eleven and the other waited (now 12 of 84 or 96 rows).
        int rowBlocks = (rows + RowBlock - 1) / RowBlock;
        int rowChunks = (rowBlocks + RowChunk / RowBlock - 1) / (RowChunk / RowBlock);
        if (threads > 1 && packRows) rowChunks = Math.Min(rowBlocks, (rowChunks + threads - 1) / threads * threads);

        KernelVariant resolved = KernelVariants.Resolve(variant);
        // One row (a decode step) over 16-bit panels goes through the multi-panel kernel, a whole number of its panel
        // groups per item: the tile's two chains take four cycles per 64-byte line of bfloat16, slower than the
        // memory on two cores (float32 lines carry half the elements, so its chains keep up; measured no gain there).
        int oneRowPanels = rows == 1 && ElementType != KeyValueElementType.Float32 ? OneRowPanelsFor(resolved) : 0;
        int panelGroups = 1;
        if (threads > 1)
        {
            // Enough items to balance the threads; when x is packed per item, keep ≥ 4 panels per item so the
            // packing stays small next to the multiply.
            panelGroups = packRows
                ? Math.Clamp((4 * threads + rowChunks - 1) / rowChunks, 1, Math.Max(1, _panelCount / 4))
                : (_panelCount + Math.Max(1, oneRowPanels) - 1) / Math.Max(1, oneRowPanels);
        }
        int panelsPerGroup = (_panelCount + panelGroups - 1) / panelGroups;
        panelGroups = (_panelCount + panelsPerGroup - 1) / panelsPerGroup;

        fixed (float* px = x, py = y)
        {
            var work = new Work
            {
                X = px, Y = py, Rows = rows, RowBlocks = rowBlocks, RowChunks = rowChunks, In = InFeatures, Out = OutFeatures,
                Panels = _panels, ElementSize = ElementType.Size(), Bias = _bias, PanelCount = _panelCount,
                PanelGroups = panelGroups, PanelsPerGroup = panelsPerGroup, PackRows = packRows, Variant = resolved,
                WideKernel = KernelFor<Float32Element, float>(resolved), OneRowPanels = oneRowPanels,
            };
            switch (ElementType)
            {
                case KeyValueElementType.BFloat16:
                    work.Kernel = KernelFor<BFloat16Element, ushort>(resolved);
                    work.WidenBlock = &WidenBlock<BFloat16Element, ushort>;
                    work.OneRowKernel = OneRowKernelFor<BFloat16Element, ushort>(resolved);
                    break;
                case KeyValueElementType.Float16:
                    work.Kernel = KernelFor<FiniteFloat16Element, ushort>(resolved);   // packing let only finite values in
                    work.WidenBlock = &WidenBlock<FiniteFloat16Element, ushort>;
                    work.OneRowKernel = OneRowKernelFor<FiniteFloat16Element, ushort>(resolved);
                    break;
                default:
                    work.Kernel = work.WideKernel;
                    break;
            }
            KernelParallel.For(rowChunks * panelGroups, threads, ref work, flops);
        }
    }

    private static delegate*<int, float*, nint, nint, void*, int, float*, nint, float*, void> KernelFor<TElement, TStorage>(
        KernelVariant resolved)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged => resolved switch
    {
        KernelVariant.Vector512 => &Gemm<Lanes512, Vector512<float>>.Panel<TElement, TStorage>,
        KernelVariant.Vector256 => &Gemm<Lanes256, Vector256<float>>.Panel<TElement, TStorage>,
        KernelVariant.Vector128 => &Gemm<Lanes128, Vector128<float>>.Panel<TElement, TStorage>,
        _ => &Gemm<LanesScalar, float>.Panel<TElement, TStorage>,
    };

    /// <summary>Panels one call of the one-row kernel covers for the variant (0: the variant has none).</summary>
    private static int OneRowPanelsFor(KernelVariant resolved) => resolved switch
    {
        KernelVariant.Vector512 => Gemm<Lanes512, Vector512<float>>.OneRowColumns / PanelWidth,
        KernelVariant.Vector256 => Gemm<Lanes256, Vector256<float>>.OneRowColumns / PanelWidth,
        KernelVariant.Vector128 => Gemm<Lanes128, Vector128<float>>.OneRowColumns / PanelWidth,
        _ => 0,   // scalar: eight lanes are a quarter panel; the tile serves
    };

    private static delegate*<float*, void*, nint, int, float*, float*, nint, void> OneRowKernelFor<TElement, TStorage>(
        KernelVariant resolved)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged => resolved switch
    {
        KernelVariant.Vector512 => &Gemm<Lanes512, Vector512<float>>.OneRowPanels<TElement, TStorage>,
        KernelVariant.Vector256 => &Gemm<Lanes256, Vector256<float>>.OneRowPanels<TElement, TStorage>,
        KernelVariant.Vector128 => &Gemm<Lanes128, Vector128<float>>.OneRowPanels<TElement, TStorage>,
        _ => null,
    };

    private static void WidenBlock<TElement, TStorage>(void* source, float* destination, int count, KernelVariant variant)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged =>
        TElement.Widen(new ReadOnlySpan<TStorage>(source, count), new Span<float>(destination, count), variant);

    /// <inheritdoc cref="Apply(ReadOnlySpan{float}, int, Span{float}, KernelVariant, int)"/>
    public void Apply(ReadOnlySpan<float> x, int rows, Span<float> y, int maxThreads = 1) =>
        Apply(x, rows, y, KernelVariants.Best, maxThreads);

    private static float* AlignTo64(float[] pinned) => (float*)AlignTo64((byte*)Unsafe.AsPointer(ref pinned[0]));

    private static void* AlignTo64(byte* p) => (void*)(((nint)p + 63) & ~(nint)63);

    private static void ThrowTooShort(string name) => throw new ArgumentException("Buffer is too short for the shape.", name);

    /// <summary>
    /// One call's work; item i is row chunk i / PanelGroups over panel group i % PanelGroups. Chunk c holds row blocks
    /// [c·RowBlocks / RowChunks, (c + 1)·RowBlocks / RowChunks).
    /// </summary>
    private struct Work : IParallelBody
    {
        public float* X, Y, Bias;
        public byte* Panels;
        public int Rows, RowBlocks, RowChunks, In, Out, ElementSize, PanelCount, PanelGroups, PanelsPerGroup;
        public bool PackRows;
        public KernelVariant Variant;
        /// <summary>The tiles over the panels as stored.</summary>
        public delegate*<int, float*, nint, nint, void*, int, float*, nint, float*, void> Kernel;
        /// <summary>The float32 tiles, for weight blocks widened into scratch.</summary>
        public delegate*<int, float*, nint, nint, void*, int, float*, nint, float*, void> WideKernel;
        /// <summary>Narrow panels only: count elements → float32.</summary>
        public delegate*<void*, float*, int, KernelVariant, void> WidenBlock;
        /// <summary>One row over <see cref="OneRowPanels"/> whole panels at once (null or 0: not for this call).</summary>
        public delegate*<float*, void*, nint, int, float*, float*, nint, void> OneRowKernel;
        public int OneRowPanels;

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
                if (Rows == 1 && OneRowPanels > 0)
                {
                    MultiplyOneRow(firstPanel, endPanel);
                    return;
                }
                Multiply(X + (nint)rowStart * In, rowStride: In, kStride: 1, depthBlock: In,
                    rowStart, chunkRows, blocks, firstPanel, endPanel);
                return;
            }
            // Narrow panels: room for one widened [512, 32] weight block after the packed rows, 64-byte aligned.
            int scratchFloats = WidenBlock == null ? 0 : DepthBlock * PanelWidth + 16;
            float[] rented = ArrayPool<float>.Shared.Rent(blocks * RowBlock * In + scratchFloats);
            try
            {
                fixed (float* packed = rented)
                {
                    PackChunk(X + (nint)rowStart * In, chunkRows, In, packed);
                    float* scratch = WidenBlock == null ? null : (float*)AlignTo64((byte*)(packed + blocks * RowBlock * In));
                    Multiply(packed, rowStride: 1, kStride: RowBlock, depthBlock: DepthBlock,
                        rowStart, chunkRows, blocks, firstPanel, endPanel, scratch);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }

        /// <summary>Row 0 over panels [firstPanel, endPanel): whole groups of full panels in one call each, the rest (the
        /// zero-padded tail panel among them) through the tile.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void MultiplyOneRow(int firstPanel, int endPanel)
        {
            int fullPanels = Out / PanelWidth;
            int p = firstPanel;
            for (; p + OneRowPanels <= Math.Min(endPanel, fullPanels); p += OneRowPanels)
            {
                float* init = Bias != null ? Bias + (nint)p * PanelWidth : Zeros;
                OneRowKernel(X, Panels + (nint)p * In * PanelWidth * ElementSize, (nint)In * PanelWidth, In,
                    Y + (nint)p * PanelWidth, init, Bias != null ? PanelWidth : 0);
            }
            if (p < endPanel)
                Multiply(X, rowStride: In, kStride: 1, depthBlock: In, rowStart: 0, chunkRows: 1, blocks: 1, p, endPanel);
        }

        // x(i, k) of the chunk sits at xs + (i / 12)·12·in + (i % 12)·rowStride + k·kStride: a block of 12 rows is
        // 12·in floats further on both in place and packed.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Multiply(float* xs, nint rowStride, nint kStride, int depthBlock,
            int rowStart, int chunkRows, int blocks, int firstPanel, int endPanel, float* scratch = null)
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
                    void* w = Panels + ((nint)p * In + k0) * PanelWidth * ElementSize;
                    var kernel = Kernel;
                    if (scratch != null)
                    {
                        WidenBlock(w, scratch, kc * PanelWidth, Variant);
                        w = scratch;
                        kernel = WideKernel;
                    }
                    float* init = k0 > 0 ? null : Bias != null ? Bias + (nint)p * PanelWidth : Zeros;
                    bool isTail = hasTail && p == PanelCount - 1;
                    float* y = isTail ? tail : Y + (nint)rowStart * Out + (nint)p * PanelWidth;
                    nint ldy = isTail ? PanelWidth : Out;
                    for (int b = 0; b < blocks; b++)
                    {
                        int r = Math.Min(RowBlock, chunkRows - b * RowBlock);
                        kernel(r, xs + (nint)b * RowBlock * In + k0 * kStride, rowStride, kStride, w, kc, y + b * RowBlock * ldy, ldy, init);
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
