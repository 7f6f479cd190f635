using CrossAttention.Core.Alignment;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Sessions;

/// <summary>One client's encoded source and its lifetime; what the session store keeps.</summary>
public sealed class SessionEntry
{
    private long _lastUsedTicks;

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
            var sliding = new DateTimeOffset(Interlocked.Read(ref _lastUsedTicks), TimeSpan.Zero) + SlidingTtl;
            return sliding < AbsoluteExpiry ? sliding : AbsoluteExpiry;
        }
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
