using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Caching;

/// <summary>
/// One layer's cached K and V for one source, in the kernels' <see cref="KeyValueLayout"/>: this class owns the
/// buffers and their lifetime, the layout says what is in them. Immutable once built, so any number of decode steps
/// may read it at once.
/// </summary>
/// <remarks>
/// Each region lives in its own pinned buffer, from a 64-byte aligned offset, so kernels stream it through raw
/// pointers without split cache-line loads. The regions are plain bytes (<see cref="KeyRegion"/>,
/// <see cref="ValueRegion"/>, <see cref="KeepRegion"/>): written out and given back to <see cref="Load"/>, they make
/// the same cache.
/// </remarks>
public sealed unsafe class KeyValueCache : IDisposable
{
    private readonly KeyValueBufferPool? _pool;
    private readonly Region _keys, _values, _keep;
    private int _released;

    private KeyValueCache(KeyValueLayout layout, KeyValueBufferPool? pool)
    {
        Layout = layout;
        _pool = pool;
        _keys = Region.Rent(layout.KeyBytes, pool);
        _values = Region.Rent(layout.ValueBytes, pool);
        _keep = Region.Rent(layout.KeepBytes, pool);
    }

    // No finalizer: a cache that is never disposed leaves its buffers to the GC. Returning them from a finalizer
    // could touch a pool that is itself being finalized (an instance pool dies with the caches it served).

    /// <summary>
    /// Hands the buffers back for reuse by the next cache. The owner calls it once no decode step can still be reading
    /// (a session store does so when the session ends); later reads would see another cache's data, never freed memory.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0 || _pool is null) return;
        _pool.Return(_keys.Store);
        _pool.Return(_values.Store);
        _pool.Return(_keep.Store);
    }

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => Volatile.Read(ref _released) != 0;

    public KeyValueLayout Layout { get; }
    public int Heads => Layout.Heads;
    public int SourceLength => Layout.SourceLength;
    public int HeadDim => Layout.HeadDim;

    /// <summary>What the decode kernels read; throws once the cache is disposed.</summary>
    public KeyValueView View
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            // float16 reads take three operations a vector instead of about eleven when no element is ±Inf or NaN.
            bool allFinite = Layout.ElementType == KeyValueElementType.Float16 && !HoldsNonFiniteValues();
            return new KeyValueView(Layout, _keys.Pointer, _values.Pointer, _keep.Pointer, this, allFinite);
        }
    }

    /// <summary>The key region, <see cref="KeyValueLayout.KeyBytes"/> bytes.</summary>
    public ReadOnlySpan<byte> KeyRegion => _keys.Span(Layout.KeyBytes);

    /// <summary>The value region, <see cref="KeyValueLayout.ValueBytes"/> bytes.</summary>
    public ReadOnlySpan<byte> ValueRegion => _values.Span(Layout.ValueBytes);

    /// <summary>The keep-lane region (the source mask), <see cref="KeyValueLayout.KeepBytes"/> bytes.</summary>
    public ReadOnlySpan<byte> KeepRegion => _keep.Span(Layout.KeepBytes);

    /// <summary>Bytes this cache holds (the three buffers, alignment slack and size-class rounding included).</summary>
    public long Bytes => (long)_keys.Store.Length + _values.Store.Length + _keep.Store.Length;

    /// <summary>
    /// Whether any stored K or V element is ±Inf or NaN. From finite inputs that happens only when a value overflows the
    /// element type (|x| ≥ 65520 rounds to Inf in float16), and the decode step would then turn it into NaN.
    /// </summary>
    /// <remarks>
    /// Scanned once, on the first call, and remembered: the regions are written only before the cache is first used
    /// (Create, Load, or a snapshot loader filling a rented cache), never after. A snapshot loader scans float16 regions
    /// as it copies them and records the answer (<see cref="RecordFiniteness"/>), so no step scans them again.
    /// </remarks>
    public bool HoldsNonFiniteValues()
    {
        int state = Volatile.Read(ref _finiteness);
        if (state == FinitenessUnknown)
        {
            state = HoldsNonFinite(KeyRegion, Layout.ElementType) || HoldsNonFinite(ValueRegion, Layout.ElementType)
                ? HoldsNonFiniteState : AllFiniteState;
            Volatile.Write(ref _finiteness, state);
        }
        return state == HoldsNonFiniteState;
    }

    /// <summary>Whether <see cref="HoldsNonFiniteValues"/> knows its answer without scanning.</summary>
    internal bool FinitenessKnown => Volatile.Read(ref _finiteness) != FinitenessUnknown;

    /// <summary>
    /// Records whether the K and V hold ±Inf or NaN, as found by whoever wrote every element of them (a snapshot
    /// loader filling a rented cache), before anyone reads the cache.
    /// </summary>
    internal void RecordFiniteness(bool holdsNonFinite) =>
        Volatile.Write(ref _finiteness, holdsNonFinite ? HoldsNonFiniteState : AllFiniteState);

    private const int FinitenessUnknown = 0, AllFiniteState = 1, HoldsNonFiniteState = 2;
    private int _finiteness;

    /// <summary>Whether any element of <paramref name="elements"/> (whole elements of <paramref name="type"/>) is ±Inf or NaN.</summary>
    internal static bool HoldsNonFinite(ReadOnlySpan<byte> elements, KeyValueElementType type)
    {
        // Exponent bits all ones marks Inf and NaN in every format. IsFiniteAll answers false for an empty span.
        return type switch
        {
            KeyValueElementType.Float16 => SixteenBitNonFinite.Any(MemoryMarshal.Cast<byte, ushort>(elements), SixteenBitNonFinite.Float16Exponent),
            KeyValueElementType.BFloat16 => SixteenBitNonFinite.Any(MemoryMarshal.Cast<byte, ushort>(elements), SixteenBitNonFinite.BFloat16Exponent),
            _ => !elements.IsEmpty && !TensorPrimitives.IsFiniteAll(MemoryMarshal.Cast<byte, float>(elements)),
        };
    }

    /// <summary>
    /// The bytes a cache of <paramref name="layout"/> holds, known before it is built (what an encode reserves): each
    /// region over-allocated for alignment and rounded up to its size class, as <see cref="Bytes"/> reports.
    /// </summary>
    public static long BytesFor(KeyValueLayout layout) =>
        RegionBytes(layout.KeyBytes) + RegionBytes(layout.ValueBytes) + RegionBytes(layout.KeepBytes);

    private static long RegionBytes(long bytes) => KeyValueBufferPool.SizeClass(bytes + KeyValueLayout.Alignment);

    /// <summary>The logical keys, [heads, m, headDim], rebuilt from the tiles (for tests and the reference).</summary>
    internal float[] LogicalKeys() => Layout.ReadKeys(KeyRegion);

    /// <summary>The logical values, [heads, m, headDim].</summary>
    internal float[] LogicalValues() => Layout.ReadValues(ValueRegion);

    /// <summary>
    /// Builds the cache from projected K and V, both [m, heads·headDim] (row j is source position j).
    /// </summary>
    /// <param name="mask">[m], 1 keep / 0 padding; empty when every position is kept</param>
    /// <param name="pool">where the buffers come from and go back to; null allocates fresh ones</param>
    /// <param name="elementType">what K and V are stored as; float16 and bfloat16 are rounded to nearest, ties to even</param>
    /// <param name="maxThreads">how many threads the build may use: the keys and the values can be laid out at once</param>
    public static KeyValueCache Create(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int sourceLength, int heads,
        int headDim, ReadOnlySpan<byte> mask, KeyValueBufferPool? pool = null,
        KeyValueElementType elementType = KeyValueElementType.Float32, int maxThreads = 1)
    {
        var layout = new KeyValueLayout(heads, sourceLength, headDim, elementType);
        if (keys.Length < (long)sourceLength * heads * headDim || values.Length < (long)sourceLength * heads * headDim)
            throw new ArgumentException("K and V must be [m, heads·headDim].");
        if (!mask.IsEmpty)
        {
            if (mask.Length != sourceLength) throw new ArgumentException("mask must have one entry per source position.", nameof(mask));
            if (!mask.ContainsAnyExcept((byte)0)) throw new ArgumentException("Every source position is padding; attention is undefined.", nameof(mask));
        }
        var cache = new KeyValueCache(layout, pool);
        // Serial, the build was a tenth of a two-thread bart-large encode (1.6 of ~15 ms) with the second core idle. One
        // item per head of K, then per head of V: the key tiles cost more than the value rows, so two items (all K, all
        // V) left one thread idle for a third of the build.
        if (maxThreads > 1 && (long)sourceLength * heads * headDim * sizeof(float) >= ParallelBuildMinBytes)
        {
            fixed (float* k = keys, v = values)
            {
                var build = new RegionBuild(cache, k, keys.Length, v, values.Length);
                KernelParallel.For(2 * heads, maxThreads, ref build, work: (long)sourceLength * heads * headDim);
            }
            layout.ClearValuePadding(cache._values.Writable(layout.ValueBytes));
        }
        else
        {
            layout.WriteKeys(keys, cache._keys.Writable(layout.KeyBytes));
            layout.WriteValues(values, cache._values.Writable(layout.ValueBytes));
        }
        layout.WriteKeep(mask, cache._keep.Writable(layout.KeepBytes));
        return cache;
    }

    // Below this much K (and as much V) a second thread costs more to wake than it saves.
    private const long ParallelBuildMinBytes = 256 * 1024;

    /// <summary>Items [0, heads) lay out one head's keys each, items [heads, 2·heads) one head's values.</summary>
    private readonly struct RegionBuild(KeyValueCache cache, float* keys, int keysLength, float* values, int valuesLength)
        : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see KeyValueLayout.WriteKeyHeads
        public void Invoke(int index)
        {
            var layout = cache.Layout;
            int head = index % layout.Heads;
            if (index < layout.Heads)
                layout.WriteKeyHeads(new ReadOnlySpan<float>(keys, keysLength), cache._keys.Writable(layout.KeyBytes), head, head + 1);
            else
                layout.WriteValueHeads(new ReadOnlySpan<float>(values, valuesLength), cache._values.Writable(layout.ValueBytes), head, head + 1);
        }
    }

    /// <summary>
    /// Rebuilds a cache by copying regions written out from another one (<see cref="KeyRegion"/>,
    /// <see cref="ValueRegion"/>, <see cref="KeepRegion"/>) of the same <paramref name="layout"/>.
    /// </summary>
    public static KeyValueCache Load(KeyValueLayout layout, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values,
        ReadOnlySpan<byte> keep, KeyValueBufferPool? pool = null)
    {
        if (keys.Length != layout.KeyBytes) throw new ArgumentException($"The key region must be {layout.KeyBytes} bytes.", nameof(keys));
        if (values.Length != layout.ValueBytes) throw new ArgumentException($"The value region must be {layout.ValueBytes} bytes.", nameof(values));
        if (keep.Length != layout.KeepBytes) throw new ArgumentException($"The keep region must be {layout.KeepBytes} bytes.", nameof(keep));
        var cache = new KeyValueCache(layout, pool);
        keys.CopyTo(cache._keys.Writable(layout.KeyBytes));
        values.CopyTo(cache._values.Writable(layout.ValueBytes));
        keep.CopyTo(cache._keep.Writable(layout.KeepBytes));
        return cache;
    }

    /// <summary>
    /// Rents the buffers of a cache whose regions the caller fills in place before sharing it (a session snapshot
    /// being loaded: the bytes go from the input straight into the pooled buffers, with no copy in between).
    /// </summary>
    internal static KeyValueCache Rent(KeyValueLayout layout, KeyValueBufferPool? pool) => new(layout, pool);

    // The regions as memory: asynchronous reads and writes of snapshots take Memory, not spans. Writable only for a cache
    // from Rent that nobody else sees yet.
    internal Memory<byte> KeyMemory => _keys.Memory(Layout.KeyBytes);
    internal Memory<byte> ValueMemory => _values.Memory(Layout.ValueBytes);
    internal Memory<byte> KeepMemory => _keep.Memory(Layout.KeepBytes);

    /// <summary>A pinned buffer and the 64-byte aligned start of the region inside it.</summary>
    private readonly struct Region
    {
        private Region(byte[] store)
        {
            Store = store;
            nint address = (nint)Unsafe.AsPointer(ref store[0]);
            Offset = (int)((KeyValueLayout.Alignment - (address & (KeyValueLayout.Alignment - 1))) & (KeyValueLayout.Alignment - 1));
        }

        public byte[] Store { get; }
        private int Offset { get; }

        // The store is pinned, so the address stays valid for as long as the cache holds it.
        public byte* Pointer => (byte*)Unsafe.AsPointer(ref Store[Offset]);

        public ReadOnlySpan<byte> Span(long bytes) => Store.AsSpan(Offset, (int)bytes);

        public Span<byte> Writable(long bytes) => Store.AsSpan(Offset, (int)bytes);

        public Memory<byte> Memory(long bytes) => Store.AsMemory(Offset, (int)bytes);

        // Over-allocated so the start can be aligned.
        public static Region Rent(long bytes, KeyValueBufferPool? pool)
        {
            long size = bytes + KeyValueLayout.Alignment;
            return new Region(pool?.Rent(size) ?? KeyValueBufferPool.Allocate(size));
        }
    }
}
