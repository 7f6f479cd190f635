using CrossAttention.Core.Alignment;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Sessions;

/// <summary>One client's encoded source and its lifetime; what the session store keeps.</summary>
public sealed class SessionEntry : IKeyValueHolder
{
    private long _lastUsedTicks;
    private KeyValueHolding? _holding;
    private InProcessSessionStore? _store;
    private int _ended, _released;

    public SessionEntry(SessionKey key, CrossAttentionModel model, EncodedSource encoded, DateTimeOffset createdAt, TimeSpan slidingTtl,
        TimeSpan maxLifetime, AttentionRecorder? recorder = null)
    {
        Recorder = recorder;
        Key = key;
        Model = model;
        Encoded = encoded;
        CreatedAt = createdAt;
        SlidingTtl = slidingTtl;
        AbsoluteExpiry = createdAt + maxLifetime;
        _lastUsedTicks = createdAt.UtcTicks;
        encoded.OnReleased(ReleaseHolding);
    }

    /// <summary>Owner and id: the owner is plain data on the entry, so it travels with the session to any store.</summary>
    public SessionKey Key { get; }

    public string Id => Key.Id;

    /// <summary>The API key name that created the session (empty without keys); no other key can see it.</summary>
    public string Owner => Key.Owner;
    /// <summary>The model the source was encoded with; its steps use the same weights whatever the catalog does later.</summary>
    public CrossAttentionModel Model { get; }

    public string ModelName => Model.Name;
    public EncodedSource Encoded { get; }
    public DateTimeOffset CreatedAt { get; }
    public TimeSpan SlidingTtl { get; }
    public DateTimeOffset AbsoluteExpiry { get; }
    /// <summary>The K/V bytes and, when recording, the whole capacity of the attention record.</summary>
    public long KvBytes => Encoded.Bytes + (Recorder?.Bytes ?? 0);

    /// <summary>The decode steps' attention rows, when the session was encoded with recordAttention.</summary>
    public AttentionRecorder? Recorder { get; }

    /// <summary>When the session ends unless used again: the sliding TTL from its last use, capped by its maximum lifetime.</summary>
    public DateTimeOffset ExpiresAt
    {
        get
        {
            // Compared before adding: a sliding TTL past the absolute expiry (one from a snapshot, say) must not
            // overflow DateTimeOffset.
            var lastUsed = new DateTimeOffset(Interlocked.Read(ref _lastUsedTicks), TimeSpan.Zero);
            return SlidingTtl < AbsoluteExpiry - lastUsed ? lastUsed + SlidingTtl : AbsoluteExpiry;
        }
    }

    long IKeyValueHolder.LastUsedTicks => Interlocked.Read(ref _lastUsedTicks);

    bool IKeyValueHolder.InUse => Encoded.InUse;

    void IKeyValueHolder.Evict() => Volatile.Read(ref _store)?.End(this, SessionEndReason.LeastRecentlyUsed);

    /// <summary>The store that evicts it; set before its bytes enter the ledger, where eviction may pick it at once.</summary>
    internal void StoredIn(InProcessSessionStore store) => Volatile.Write(ref _store, store);

    /// <summary>The store counts the session's bytes in its ledger from now on (a session ended meanwhile ends there too).</summary>
    internal void Hold(KeyValueHolding holding)
    {
        Volatile.Write(ref _holding, holding);
        if (Volatile.Read(ref _ended) != 0) holding.End();
        if (Volatile.Read(ref _released) != 0) holding.Release();
    }

    /// <summary>The session has ended (deleted, expired, evicted): its K/V go back once no step reads them.</summary>
    internal void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        Volatile.Read(ref _holding)?.End();
        Encoded.Dispose();
    }

    // The last reader is gone: the ledger stops counting the bytes before the buffers reach the pool.
    private void ReleaseHolding()
    {
        Interlocked.Exchange(ref _released, 1);
        Volatile.Read(ref _holding)?.Release();
    }

    internal void Touch(DateTimeOffset now)
    {
        long ticks = now.UtcTicks;
        long seen = Interlocked.Read(ref _lastUsedTicks);
        while (ticks > seen)
        {
            long previous = Interlocked.CompareExchange(ref _lastUsedTicks, ticks, seen);
            if (previous == seen) break;
            seen = previous;
        }
    }
}
