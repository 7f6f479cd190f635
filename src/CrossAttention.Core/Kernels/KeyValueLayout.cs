using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CrossAttention.Core.Kernels;

/// <summary>The element type a layer's K and V are held in; the decode kernels read each one directly.</summary>
public enum KeyValueElementType
{
    Float32 = 0,
    Float16 = 1,
    BFloat16 = 2,
}

public static class KeyValueElementTypes
{
    /// <summary>The names the service and its clients use, in <see cref="KeyValueElementType"/> order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["float32", "float16", "bfloat16"];

    /// <summary>The client-facing name: float32, float16 or bfloat16.</summary>
    public static string Name(this KeyValueElementType elementType) => Names[(int)elementType];

    /// <summary>Reads a client-facing name (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? name, out KeyValueElementType elementType)
    {
        for (int i = 0; i < Names.Count; i++)
        {
            if (string.Equals(name, Names[i], StringComparison.OrdinalIgnoreCase))
            {
                elementType = (KeyValueElementType)i;
                return true;
            }
        }
        elementType = default;
        return false;
    }

    /// <summary>Bytes one element takes.</summary>
    public static int Size(this KeyValueElementType elementType) => elementType switch
    {
        KeyValueElementType.Float32 => sizeof(float),
        KeyValueElementType.Float16 or KeyValueElementType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unknown K/V element type."),
    };
}

/// <summary>
/// The memory format the decode kernels read one layer's cached K/V in, for one source: three contiguous regions
/// that hold no pointers, so they can be written out and loaded back by copying bytes.
/// </summary>
/// <remarks>
/// <para>Keys: transposed in tiles of <see cref="TileWidth"/> positions, [heads, tiles, headDim, 16], so one vector load
/// of a tile row times a broadcast q[d] advances 16 scores at once; positions past m in the last tile are zero.</para>
/// <para>Values: row-major per head, [heads, m, headDim], then <see cref="ValuePadding"/> zero elements so a full-width
/// load of the last row's last chunk stays inside the region.</para>
/// <para>Keep lanes: [tiles·16] 32-bit lane masks, all ones where the position is kept, zero at padding and past m
/// (32-bit whatever the element type: the softmax runs in float32).</para>
/// Each region starts 64-byte aligned in memory the kernels read, so no load splits a cache line.
/// </remarks>
public readonly record struct KeyValueLayout
{
    /// <summary>Positions per K tile: one Vector512 of floats, two Vector256, four Vector128.</summary>
    public const int TileWidth = 16;

    /// <summary>Zero elements after the values.</summary>
    public const int ValuePadding = 16;

    /// <summary>Bytes each region's start is aligned to.</summary>
    public const int Alignment = 64;

    public KeyValueLayout(int heads, int sourceLength, int headDim, KeyValueElementType elementType = KeyValueElementType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        _ = elementType.Size(); // rejects an unknown type
        Heads = heads;
        SourceLength = sourceLength;
        HeadDim = headDim;
        ElementType = elementType;
    }

    public int Heads { get; }
    public int SourceLength { get; }
    public int HeadDim { get; }
    public KeyValueElementType ElementType { get; }

    public int ElementSize => ElementType.Size();

    /// <summary>ceil(m / 16): K tiles per head.</summary>
    public int Tiles => (SourceLength + TileWidth - 1) / TileWidth;

    /// <summary>Bytes of the key region, [heads, tiles, headDim, 16].</summary>
    public long KeyBytes => (long)Heads * Tiles * HeadDim * TileWidth * ElementSize;

    /// <summary>Bytes of the value region, [heads, m, headDim] plus the padding.</summary>
    public long ValueBytes => ((long)Heads * SourceLength * HeadDim + ValuePadding) * ElementSize;

    /// <summary>Bytes of the keep-lane region, [tiles·16] × 4.</summary>
    public long KeepBytes => (long)Tiles * TileWidth * sizeof(uint);

    /// <summary>
    /// Writes projected keys, [m, heads·headDim] (row j is source position j), into a key region, narrowed to the
    /// element type (round to nearest, ties to even) when it is 16-bit.
    /// </summary>
    public void WriteKeys(ReadOnlySpan<float> keys, Span<byte> region)
    {
        CheckProjected(keys, nameof(keys));
        CheckRegion(region, KeyBytes, nameof(region));
        WriteKeyHeads(keys, region, 0, Heads);
    }

    /// <summary>The tiles of heads [headStart, headEnd) only (each head's tiles are one contiguous block of the region).</summary>
    // Optimized from the first call, as the kernels are: a parallel build's judge times its first loops, and loops of
    // unoptimized code (the first ~100 ms of a process) made it keep the build on one thread where two are twice as fast.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal unsafe void WriteKeyHeads(ReadOnlySpan<float> keys, Span<byte> region, int headStart, int headEnd)
    {
        long headElements = (long)Tiles * HeadDim * TileWidth;
        int count = (int)((headEnd - headStart) * headElements);
        var destination = region.Slice((int)(headStart * headElements * ElementSize), count * ElementSize);
        if (ElementType == KeyValueElementType.Float32)
        {
            fixed (float* source = keys)
            fixed (byte* tiled = destination)
                KeyTileTranspose.Transpose(source, (float*)tiled, SourceLength, Heads, HeadDim, headStart, headEnd,
                    KernelVariants.Best);
            return;
        }
        // Tiled in float32 first, so the one transpose serves every type, then narrowed in a single vector pass.
        float[] staging = ArrayPool<float>.Shared.Rent(count);
        try
        {
            fixed (float* source = keys)
            fixed (float* tiled = staging)
                KeyTileTranspose.Transpose(source, tiled, SourceLength, Heads, HeadDim, headStart, headEnd,
                    KernelVariants.Best);
            Narrow(staging.AsSpan(0, count), MemoryMarshal.Cast<byte, ushort>(destination));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(staging);
        }
    }

    /// <summary>Writes projected values, [m, heads·headDim], into a value region (padding zeroed), narrowed as the keys.</summary>
    public void WriteValues(ReadOnlySpan<float> values, Span<byte> region)
    {
        CheckProjected(values, nameof(values));
        CheckRegion(region, ValueBytes, nameof(region));
        WriteValueHeads(values, region, 0, Heads);
        ClearValuePadding(region);
    }

    /// <summary>The rows of heads [headStart, headEnd) only, without the padding after the last head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see WriteKeyHeads
    internal void WriteValueHeads(ReadOnlySpan<float> values, Span<byte> region, int headStart, int headEnd)
    {
        int inner = Heads * HeadDim;
        if (ElementType == KeyValueElementType.Float32)
        {
            var rows = MemoryMarshal.Cast<byte, float>(region[..(int)ValueBytes]); // [heads, m, headDim] + padding
            for (int h = headStart; h < headEnd; h++)
                for (int j = 0; j < SourceLength; j++)
                    values.Slice(j * inner + h * HeadDim, HeadDim).CopyTo(rows.Slice((h * SourceLength + j) * HeadDim, HeadDim));
            return;
        }
        var narrowRows = MemoryMarshal.Cast<byte, ushort>(region[..(int)ValueBytes]); // [heads, m, headDim] + padding
        for (int h = headStart; h < headEnd; h++)
            for (int j = 0; j < SourceLength; j++)
                Narrow(values.Slice(j * inner + h * HeadDim, HeadDim), narrowRows.Slice((h * SourceLength + j) * HeadDim, HeadDim));
    }

    /// <summary>Zeroes the elements after the last value row, which full-width loads of that row read.</summary>
    internal void ClearValuePadding(Span<byte> region) =>
        region.Slice((int)(ValueBytes - ValuePadding * ElementSize), ValuePadding * ElementSize).Clear();

    /// <summary>Writes the keep lanes of a mask ([m], 1 keep / 0 padding; empty keeps all) into a keep region.</summary>
    public void WriteKeep(ReadOnlySpan<byte> mask, Span<byte> region)
    {
        if (!mask.IsEmpty && mask.Length != SourceLength)
            throw new ArgumentException("mask must have one entry per source position.", nameof(mask));
        CheckRegion(region, KeepBytes, nameof(region));
        var keep = MemoryMarshal.Cast<byte, uint>(region[..(int)KeepBytes]);
        keep.Clear();
        for (int j = 0; j < SourceLength; j++)
            keep[j] = mask.IsEmpty || mask[j] != 0 ? uint.MaxValue : 0u;
    }

    /// <summary>The logical keys, [heads, m, headDim], read back (widened) from a key region (for tests and the reference).</summary>
    public float[] ReadKeys(ReadOnlySpan<byte> region)
    {
        CheckRegion(region, KeyBytes, nameof(region));
        var tiles = Widen(region[..(int)KeyBytes]);
        int m = SourceLength, d = HeadDim;
        var keys = new float[(long)Heads * m * d];
        for (int h = 0; h < Heads; h++)
            for (int j = 0; j < m; j++)
                for (int c = 0; c < d; c++)
                    keys[((long)h * m + j) * d + c] = tiles[(int)((((long)h * Tiles + j / TileWidth) * d + c) * TileWidth + j % TileWidth)];
        return keys;
    }

    /// <summary>The logical values, [heads, m, headDim], read back (widened) from a value region.</summary>
    public float[] ReadValues(ReadOnlySpan<byte> region)
    {
        CheckRegion(region, ValueBytes, nameof(region));
        return Widen(region[..(int)ValueBytes])[..(Heads * SourceLength * HeadDim)];
    }

    private void Narrow(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (ElementType == KeyValueElementType.BFloat16) BFloat16Narrowing.Narrow(source, destination);
        else Float16Narrowing.Narrow(source, destination);
    }

    private float[] Widen(ReadOnlySpan<byte> region)
    {
        if (ElementType == KeyValueElementType.Float32) return MemoryMarshal.Cast<byte, float>(region).ToArray();
        var narrow = MemoryMarshal.Cast<byte, ushort>(region);
        var wide = new float[narrow.Length];
        if (ElementType == KeyValueElementType.BFloat16) BFloat16Widening.Widen(narrow, wide);
        else Float16Widening.Widen(narrow, wide);
        return wide;
    }

    private void CheckProjected(ReadOnlySpan<float> projected, string name)
    {
        if (projected.Length < (long)SourceLength * Heads * HeadDim)
            throw new ArgumentException("K and V must be [m, heads·headDim].", name);
    }

    private static void CheckRegion(ReadOnlySpan<byte> region, long bytes, string name)
    {
        if (region.Length < bytes) throw new ArgumentException($"The region holds {region.Length} bytes; the layout needs {bytes}.", name);
    }
}

/// <summary>
/// One layer's K/V regions as the decode kernels read them: raw pointers into pinned memory, and the object that owns
/// that memory, kept reachable for as long as a kernel reads through the pointers.
/// </summary>
public readonly unsafe struct KeyValueView
{
    internal KeyValueView(KeyValueLayout layout, byte* keys, byte* values, byte* keep, object owner, bool allFinite = false)
    {
        AllFinite = allFinite;
        Layout = layout;
        Keys = keys;
        Values = values;
        Keep = keep;
        Owner = owner;
    }

    public KeyValueLayout Layout { get; }

    internal byte* Keys { get; }    // [heads, tiles, headDim, 16]
    internal byte* Values { get; }  // [heads, m, headDim] + padding
    internal byte* Keep { get; }    // [tiles·16] uint32
    internal object? Owner { get; }
    /// <summary>True when the owner has checked that no stored K or V element is ±Inf or NaN (cheaper float16 reads).</summary>
    internal bool AllFinite { get; }

    internal bool IsDefault => Owner is null;
}
