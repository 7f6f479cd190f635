namespace CrossAttention.Core.Engine;

/// <summary>A source encoded for every layer of one model: what a session keeps.</summary>
public sealed class EncodedSource
{
    public EncodedSource(string modelName, IReadOnlyList<KeyValueCache> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("An encoded source needs at least one layer.", nameof(layers));
        ModelName = modelName;
        Layers = layers;
        Bytes = layers.Sum(l => l.Bytes);
    }

    public string ModelName { get; }
    public IReadOnlyList<KeyValueCache> Layers { get; }
    public int SourceLength => Layers[0].SourceLength;

    /// <summary>Bytes held by every layer's K/V (and mask).</summary>
    public long Bytes { get; }
}
