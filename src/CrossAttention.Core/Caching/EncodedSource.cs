namespace CrossAttention.Core.Caching;

/// <summary>
/// A source encoded for every layer of one model: what a session keeps. Readers take a lease for the duration of a
/// decode step; the K/V buffers go back to the pool only when the owner has disposed it and the last lease has ended,
/// so ending a session never pulls the cache from under a step in flight.
/// </summary>
public sealed class EncodedSource : IDisposable
{
    private int _references = 1; // the owner's
    private int _disposed;
    private Action? _released;

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

    /// <summary>What every layer stores K and V as.</summary>
    public Kernels.KeyValueElementType ElementType => Layers[0].Layout.ElementType;

    /// <summary>The first layer whose K or V holds ±Inf or NaN (see <see cref="KeyValueCache.HoldsNonFiniteValues"/>), or −1.</summary>
    public int FirstLayerWithNonFiniteValues()
    {
        for (int i = 0; i < Layers.Count; i++)
            if (Layers[i].HoldsNonFiniteValues()) return i;
        return -1;
    }

    /// <summary>Bytes held by every layer's K/V (and mask).</summary>
    public long Bytes { get; }

    /// <summary>Takes a read lease; false when the source has already been disposed (its session ended).</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int seen = Volatile.Read(ref _references);
            if (seen == 0 || Volatile.Read(ref _disposed) != 0) return false;
            if (Interlocked.CompareExchange(ref _references, seen + 1, seen) == seen) return true;
        }
    }

    /// <summary>Whether a decode step holds a lease right now.</summary>
    public bool InUse => Volatile.Read(ref _references) > 1;

    /// <summary>
    /// Runs <paramref name="released"/> once the last reference ends, just before the buffers go back to the pool (a
    /// ledger stops counting them there, so the pool may count them as idle). Set it once, before sharing the source.
    /// </summary>
    public void OnReleased(Action released) => _released = released;

    /// <summary>Ends a lease taken with <see cref="TryAcquire"/>.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        _released?.Invoke();
        foreach (var layer in Layers) layer.Dispose();
    }

    /// <summary>The owner lets go; the buffers are recycled once no lease is left.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) Release();
    }
}
