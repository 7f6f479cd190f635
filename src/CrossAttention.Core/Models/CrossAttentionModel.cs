using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Models;

/// <summary>
/// The cross-attention of every decoder layer of one model. All layers share one shape (heads, sizes, scale).
/// </summary>
public sealed class CrossAttentionModel
{
    public CrossAttentionModel(string name, string family, IReadOnlyList<CrossAttentionLayer> layers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (layers.Count == 0) throw new ArgumentException("A model needs at least one cross-attention layer.", nameof(layers));
        var first = layers[0];
        for (int i = 1; i < layers.Count; i++)
        {
            var l = layers[i];
            if (l.Heads != first.Heads || l.HeadDim != first.HeadDim || l.QueryDim != first.QueryDim ||
                l.SourceDim != first.SourceDim || l.Scale != first.Scale)
                throw new ArgumentException($"Layer {i} has a different shape from layer 0; all layers must match.", nameof(layers));
        }
        Name = name;
        Family = family;
        Layers = layers;
    }

    public string Name { get; }
    public string Family { get; }
    public IReadOnlyList<CrossAttentionLayer> Layers { get; }
    public int Heads => Layers[0].Heads;
    public int HeadDim => Layers[0].HeadDim;
    public int QueryDim => Layers[0].QueryDim;
    public int SourceDim => Layers[0].SourceDim;
    public float Scale => Layers[0].Scale;
    public ProjectionBiases Biases => Layers[0].Biases;

    /// <summary>What the weights are stored as (every layer alike when built by the loader or the built-in models).</summary>
    public KeyValueElementType WeightsType => Layers[0].WeightsType;

    /// <summary>Bytes the packed weights and biases of every layer hold (panel padding included).</summary>
    public long WeightBytes => Layers.Sum(layer => layer.WeightBytes);

    /// <summary>
    /// The least a session's K/V can take for a source of m positions: the K and V values and the mask. The cache itself
    /// adds tile padding and buffer rounding (<see cref="EncodedSource.Bytes"/> is the exact figure); this bound lets a
    /// source that could never fit be refused before any work.
    /// </summary>
    public long KeyValueBytes(int sourceLength, bool masked, KeyValueElementType elementType = KeyValueElementType.Float32) =>
        Layers.Count * (2L * elementType.Size() * sourceLength * Layers[0].InnerDim + (masked ? sourceLength : 0));

    /// <summary>
    /// The exact bytes <see cref="Encode"/> of <paramref name="sourceLength"/> positions will hold (tile padding, the
    /// keep lanes, alignment and size-class rounding included): what an encode reserves before it computes.
    /// </summary>
    public long EncodedBytes(int sourceLength, KeyValueElementType elementType = KeyValueElementType.Float32) =>
        Layers.Count * KeyValueCache.BytesFor(new KeyValueLayout(Heads, sourceLength, HeadDim, elementType));

    /// <summary>Encodes one source for every layer.</summary>
    /// <param name="source">[m, sourceDim]</param>
    /// <param name="mask">[m], 1 keep / 0 padding; empty keeps all</param>
    /// <param name="pool">where the caches' buffers come from and go back to; null allocates fresh ones</param>
    /// <param name="elementType">what the caches store K and V as</param>
    public EncodedSource Encode(ReadOnlySpan<float> source, int sourceLength, ReadOnlySpan<byte> mask, ComputeOptions options,
        KeyValueBufferPool? pool = null, KeyValueElementType elementType = KeyValueElementType.Float32)
    {
        var caches = new KeyValueCache[Layers.Count];
        for (int i = 0; i < caches.Length; i++) caches[i] = Layers[i].Encode(source, sourceLength, mask, options, pool, elementType);
        return new EncodedSource(Name, caches);
    }
}
