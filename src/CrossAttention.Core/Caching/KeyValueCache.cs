using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossAttention.Core.Engine;

/// <summary>
/// One layer's cached K and V for one source, held in the layout the decode kernel streams, plus the source's
/// padding mask. Immutable once built, so any number of decode steps may read it at once.
/// </summary>
/// <remarks>
/// K is stored transposed in tiles of <see cref="TileWidth"/> positions, [heads, tiles, headDim, 16], so one vector
/// load of a tile row times a broadcast q[d] advances 16 scores at once; positions past m in the last tile are zero.
/// V stays row-major per head, [heads, m, headDim], so the weighted sum broadcasts p_j over a row of V. Both live in
/// pinned, 64-byte aligned arrays so the kernel streams them through raw pointers without split cache-line loads.
/// </remarks>
public sealed unsafe class KeyValueCache : IDisposable
{
    /// <summary>Positions per K tile: one Vector512 of floats, two Vector256, four Vector128.</summary>
    internal const int TileWidth = 16;

    private const int AlignmentFloats = 16; // 64 bytes

    private readonly float[] _keyStore;
    private readonly int _keyOffset;
    private readonly float[] _valueStore;
    private readonly int _valueOffset;
    private readonly float[] _keepStore;
    private readonly int _keepOffset;

    private KeyValueCache(int heads, int sourceLength, int headDim, float[] keyStore, int keyOffset,
        float[] valueStore, int valueOffset, float[] keepStore, int keepOffset, byte[]? mask)
    {
        Heads = heads;
        SourceLength = sourceLength;
        HeadDim = headDim;
        Tiles = TileCount(sourceLength);
        _keyStore = keyStore;
        _keyOffset = keyOffset;
        _valueStore = valueStore;
        _valueOffset = valueOffset;
        _keepStore = keepStore;
        _keepOffset = keepOffset;
        Mask = mask;
    }

    private int _released;

    // A cache nobody disposed still gives its buffers back once nothing can reach them.
    ~KeyValueCache() => ReturnBuffers();

    /// <summary>
    /// Hands the buffers back for reuse by the next cache. The owner calls it once no decode step can still be reading
    /// (a session store does so when the session ends); later reads would see another cache's data, never freed memory.
    /// </summary>
    public void Dispose()
    {
        ReturnBuffers();
        GC.SuppressFinalize(this);
    }

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => Volatile.Read(ref _released) != 0;

    private void ReturnBuffers()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        PinnedBufferPool.Return(_keyStore);
        PinnedBufferPool.Return(_valueStore);
        PinnedBufferPool.Return(_keepStore);
    }

    /// <summary>
    /// Most bytes of buffers from ended caches kept for reuse by new ones (default 256 MiB); 0 turns recycling off.
    /// These bytes are not part of any cache's <see cref="Bytes"/>.
    /// </summary>
    public static long RecycledBytesLimit
    {
        get => PinnedBufferPool.LimitBytes;
        set => PinnedBufferPool.LimitBytes = Math.Max(0, value);
    }

    /// <summary>Bytes of buffers from ended caches held for reuse right now.</summary>
    public static long RecycledBytes => PinnedBufferPool.IdleBytes;

    public int Heads { get; }
    public int SourceLength { get; }
    public int HeadDim { get; }

    /// <summary>ceil(m / 16): K tiles per head.</summary>
    internal int Tiles { get; }

    /// <summary>[m], 1 keep / 0 padding; null when no position is padding.</summary>
    internal byte[]? Mask { get; }

    /// <summary>[heads, tiles, headDim, 16]. Valid while this cache is reachable (the store is pinned).</summary>
    internal float* KeyTiles => (float*)Unsafe.AsPointer(ref _keyStore[_keyOffset]);

    /// <summary>
    /// [heads, m, headDim], followed by at least 16 zero floats so a full-width load of the last row's last chunk
    /// stays inside the array.
    /// </summary>
    internal float* ValueRows => (float*)Unsafe.AsPointer(ref _valueStore[_valueOffset]);

    /// <summary>
    /// [tiles·16] lane masks as float bit patterns: all ones where the position is kept, zero at padding and past m.
    /// </summary>
    internal float* KeepBits => (float*)Unsafe.AsPointer(ref _keepStore[_keepOffset]);

    /// <summary>Bytes this cache holds (keys, values, keep lanes and mask, alignment slack included).</summary>
    public long Bytes => sizeof(float) * ((long)_keyStore.Length + _valueStore.Length + _keepStore.Length)
        + (Mask?.Length ?? 0);

    /// <summary>The logical keys, [heads, m, headDim], rebuilt from the tiles (for tests and the reference).</summary>
    internal float[] LogicalKeys()
    {
        int m = SourceLength, d = HeadDim;
        var keys = new float[(long)Heads * m * d];
        float* tiles = KeyTiles;
        for (int h = 0; h < Heads; h++)
            for (int j = 0; j < m; j++)
                for (int c = 0; c < d; c++)
                    keys[((long)h * m + j) * d + c] =
                        tiles[(((long)h * Tiles + j / TileWidth) * d + c) * TileWidth + j % TileWidth];
        GC.KeepAlive(this);
        return keys;
    }

    /// <summary>The logical values, [heads, m, headDim].</summary>
    internal float[] LogicalValues() =>
        _valueStore.AsSpan(_valueOffset, Heads * SourceLength * HeadDim).ToArray();

    internal static int TileCount(int sourceLength) => (sourceLength + TileWidth - 1) / TileWidth;

    /// <summary>
    /// Builds the cache from projected K and V, both [m, heads·headDim] (row j is source position j).
    /// </summary>
    /// <param name="mask">[m], 1 keep / 0 padding; empty when every position is kept</param>
    public static KeyValueCache Create(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int sourceLength, int heads,
        int headDim, ReadOnlySpan<byte> mask)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        int inner = heads * headDim;
        if (keys.Length < (long)sourceLength * inner || values.Length < (long)sourceLength * inner)
            throw new ArgumentException("K and V must be [m, heads·headDim].");
        byte[]? maskCopy = null;
        if (!mask.IsEmpty)
        {
            if (mask.Length != sourceLength) throw new ArgumentException("mask must have one entry per source position.", nameof(mask));
            if (!mask.ContainsAnyExcept((byte)1)) maskCopy = null;
            else if (!mask.ContainsAnyExcept((byte)0)) throw new ArgumentException("Every source position is padding; attention is undefined.", nameof(mask));
            else maskCopy = mask.ToArray();
        }

        int tiles = TileCount(sourceLength);
        long tiledLength = (long)heads * tiles * headDim * TileWidth;
        long valueLength = (long)heads * sourceLength * headDim;

        float[] keyStore = AllocateAligned(tiledLength, out int keyOffset);
        float[] valueStore = AllocateAligned(valueLength + AlignmentFloats, out int valueOffset);
        float[] keepStore = AllocateAligned((long)tiles * TileWidth, out int keepOffset);

        fixed (float* keySource = keys)
        fixed (float* valueSource = values)
        {
            float* keyTiles = (float*)Unsafe.AsPointer(ref keyStore[keyOffset]);
            float* valueRows = (float*)Unsafe.AsPointer(ref valueStore[valueOffset]);
            TransposeKeys(keySource, keyTiles, sourceLength, heads, headDim, tiles);
            RegroupValues(valueSource, valueRows, sourceLength, heads, headDim);
            new Span<float>(valueRows + valueLength, AlignmentFloats).Clear();
        }

        Span<uint> keep = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(
            keepStore.AsSpan(keepOffset, tiles * TileWidth));
        keep.Clear();
        for (int j = 0; j < sourceLength; j++)
            keep[j] = maskCopy is null || maskCopy[j] != 0 ? uint.MaxValue : 0u;

        return new KeyValueCache(heads, sourceLength, headDim, keyStore, keyOffset, valueStore, valueOffset,
            keepStore, keepOffset, maskCopy);
    }

    // [m, heads·headDim] → [heads, tiles, headDim, 16]. Walks one tile of 16 source rows at a time (16·inner floats,
    // cache-resident) and writes each head's tile sequentially.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeKeys(float* source, float* tiled, int m, int heads, int headDim, int tiles)
    {
        int inner = heads * headDim;
        for (int t = 0; t < tiles; t++)
        {
            int j0 = t * TileWidth;
            int rows = Math.Min(TileWidth, m - j0);
            for (int h = 0; h < heads; h++)
            {
                float* tile = tiled + ((long)h * tiles + t) * headDim * TileWidth;
                float* column = source + (long)j0 * inner + h * headDim;
                if (rows == TileWidth && Avx2.IsSupported)
                {
                    // Each tile row is two 8-lane gathers down the 16 source rows: ~8× fewer instructions than
                    // scalar copies, and the writes stay sequential.
                    var rowOffsets = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * inner;
                    float* lowerRows = column, upperRows = column + 8L * inner;
                    for (int c = 0; c < headDim; c++)
                    {
                        Avx2.GatherVector256(lowerRows + c, rowOffsets, 4).Store(tile + c * TileWidth);
                        Avx2.GatherVector256(upperRows + c, rowOffsets, 4).Store(tile + c * TileWidth + 8);
                    }
                    continue;
                }
                if (rows < TileWidth) new Span<float>(tile, headDim * TileWidth).Clear();
                for (int r = 0; r < rows; r++)
                {
                    float* row = column + (long)r * inner;
                    float* lane = tile + r;
                    for (int c = 0; c < headDim; c++) lane[c * TileWidth] = row[c];
                }
            }
        }
    }

    // [m, heads·headDim] → [heads, m, headDim]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RegroupValues(float* source, float* rows, int m, int heads, int headDim)
    {
        int inner = heads * headDim;
        for (int h = 0; h < heads; h++)
        {
            float* head = rows + (long)h * m * headDim;
            for (int j = 0; j < m; j++)
                new ReadOnlySpan<float>(source + (long)j * inner + h * headDim, headDim)
                    .CopyTo(new Span<float>(head + (long)j * headDim, headDim));
        }
    }

    // Pinned so raw pointers into it stay valid for the cache's lifetime; over-allocated so the start can be aligned.
    private static float[] AllocateAligned(long length, out int offset)
    {
        var store = PinnedBufferPool.Rent(length + AlignmentFloats);
        nint address = (nint)Unsafe.AsPointer(ref store[0]);
        offset = (int)((64 - (address & 63)) & 63) / sizeof(float);
        return store;
    }
}
