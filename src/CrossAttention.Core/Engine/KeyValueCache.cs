namespace CrossAttention.Core.Engine;

/// <summary>
/// One layer's cached K and V for one source, held in the layout the decode kernel streams, plus the source's
/// padding mask. Immutable once built, so any number of decode steps may read it at once.
/// </summary>
public sealed class KeyValueCache
{
    internal KeyValueCache(int heads, int sourceLength, int headDim, float[] keys, float[] values, byte[]? mask)
    {
        Heads = heads;
        SourceLength = sourceLength;
        HeadDim = headDim;
        Keys = keys;
        Values = values;
        Mask = mask;
    }

    public int Heads { get; }
    public int SourceLength { get; }
    public int HeadDim { get; }

    /// <summary>[heads, m, headDim]</summary>
    internal float[] Keys { get; }

    /// <summary>[heads, m, headDim]</summary>
    internal float[] Values { get; }

    /// <summary>[m], 1 keep / 0 padding; null when no position is padding.</summary>
    internal byte[]? Mask { get; }

    /// <summary>Bytes this cache holds (keys, values and mask).</summary>
    public long Bytes => sizeof(float) * ((long)Keys.Length + Values.Length) + (Mask?.Length ?? 0);

    /// <summary>
    /// Builds the cache from projected K and V, both [m, heads·headDim] (row j is source position j).
    /// </summary>
    /// <param name="mask">[m], 1 keep / 0 padding; empty when every position is kept</param>
    public static KeyValueCache Create(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int sourceLength, int heads,
        int headDim, ReadOnlySpan<byte> mask)
    {
        int inner = heads * headDim;
        if (keys.Length < sourceLength * inner || values.Length < sourceLength * inner)
            throw new ArgumentException("K and V must be [m, heads·headDim].");
        byte[]? maskCopy = null;
        if (!mask.IsEmpty)
        {
            if (mask.Length != sourceLength) throw new ArgumentException("mask must have one entry per source position.", nameof(mask));
            if (!mask.ContainsAnyExcept((byte)1)) maskCopy = null;
            else if (!mask.ContainsAnyExcept((byte)0)) throw new ArgumentException("Every source position is padding; attention is undefined.", nameof(mask));
            else maskCopy = mask.ToArray();
        }
        var k = new float[(long)heads * sourceLength * headDim];
        var v = new float[(long)heads * sourceLength * headDim];
        for (int j = 0; j < sourceLength; j++)
        {
            for (int h = 0; h < heads; h++)
            {
                keys.Slice(j * inner + h * headDim, headDim).CopyTo(k.AsSpan((h * sourceLength + j) * headDim, headDim));
                values.Slice(j * inner + h * headDim, headDim).CopyTo(v.AsSpan((h * sourceLength + j) * headDim, headDim));
            }
        }
        return new KeyValueCache(heads, sourceLength, headDim, k, v, maskCopy);
    }
}
