using CrossAttention.Api.Observability;
using CrossAttention.Api.Options;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Sessions;

/// <summary>
/// Sessions in a dedicated <see cref="MemoryCache"/> whose size unit is the byte: entry Size = the session's K/V bytes,
/// SizeLimit = Cache:SizeLimitBytes. Sessions are never evicted to make room for others (losing a client's K/V
/// mid-generation is worse than refusing a new one); they end on delete, sliding TTL or maximum lifetime.
/// </summary>
public sealed class MemoryCacheSessionStore : ISessionStore, IDisposable
{
    private readonly MemoryCache _cache;
    private readonly TimeProvider _time;
    private readonly long _limit;
    private readonly Lock _addLock = new();
    private readonly SessionTelemetry? _telemetry;

    public MemoryCacheSessionStore(IOptions<CrossAttentionOptions> options, TimeProvider time, SessionTelemetry? telemetry = null)
    {
        _telemetry = telemetry;
        _time = time;
        _limit = options.Value.Cache.SizeLimitBytes;
        _cache = new MemoryCache(new MemoryCacheOptions
        {
            SizeLimit = _limit,
            TrackStatistics = true,
            Clock = new TimeProviderClock(time),
            ExpirationScanFrequency = TimeSpan.FromSeconds(1),
        });
    }

    public SessionStoreUsage Usage =>
        new(_cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0, _limit, _cache.Count);

    public ValueTask<SessionAddResult> AddAsync(SessionEntry session, CancellationToken cancellationToken)
    {
        if (session.KvBytes > _limit) return ValueTask.FromResult(SessionAddResult.InsufficientStorage);
        // Adds are rare next to reads; one lock makes "is the id free, then set" atomic (a client may choose the id).
        lock (_addLock)
        {
            if (_cache.TryGetValue(session.Key, out SessionEntry? existing) && existing is not null && _time.GetUtcNow() < existing.ExpiresAt)
                return ValueTask.FromResult(SessionAddResult.AlreadyExists);
            if (TrySet(session)) return ValueTask.FromResult(SessionAddResult.Stored);
            // Expired sessions still count towards the size until the cache scans them out: drop them and try once more.
            _cache.Compact(0);
            return ValueTask.FromResult(TrySet(session) ? SessionAddResult.Stored : SessionAddResult.InsufficientStorage);
        }
    }

    public ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken)
    {
        if (!_cache.TryGetValue(key, out SessionEntry? session) || session is null) return ValueTask.FromResult<SessionEntry?>(null);
        var now = _time.GetUtcNow();
        if (now >= session.ExpiresAt) // the cache checks lazily; the session's own clock is the contract
        {
            RemoveIfSame(session);
            return ValueTask.FromResult<SessionEntry?>(null);
        }
        session.Touch(now);
        return ValueTask.FromResult<SessionEntry?>(session);
    }

    public ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken)
    {
        if (!_cache.TryGetValue(key, out SessionEntry? session) || session is null) return ValueTask.FromResult(false);
        bool live = _time.GetUtcNow() < session.ExpiresAt;
        RemoveIfSame(session);
        return ValueTask.FromResult(live);
    }

    // Only this entry: a client may meanwhile have put a new session under the same key.
    private void RemoveIfSame(SessionEntry session)
    {
        lock (_addLock)
        {
            if (_cache.TryGetValue(session.Key, out SessionEntry? current) && ReferenceEquals(current, session)) _cache.Remove(session.Key);
        }
    }

    public void Dispose() => _cache.Dispose();

    private bool TrySet(SessionEntry session)
    {
        var entryOptions = new MemoryCacheEntryOptions
        {
            Size = session.KvBytes,
            SlidingExpiration = session.SlidingTtl,
            AbsoluteExpiration = session.AbsoluteExpiry,
            Priority = CacheItemPriority.NeverRemove,
        };
        // However it ends (deleted, expired, replaced), the session's K/V go back to the pool once no step reads them.
        // Capacity is not an end: entries are NeverRemove, so it only means "refused", and a refused entry may still be
        // stored by the retry below (the caller disposes it if it is not).
        entryOptions.RegisterPostEvictionCallback(static (_, value, reason, _) =>
        {
            if (reason != EvictionReason.Capacity) (value as SessionEntry)?.Encoded.Dispose();
        });
        if (_telemetry is not null) entryOptions.RegisterPostEvictionCallback(static (_, value, reason, store) => ((MemoryCacheSessionStore)store!).ReportEnd(value, reason), this);
        _cache.Set(session.Key, session, entryOptions);
        // IMemoryCache silently drops an entry that does not fit: only a read-back tells.
        return _cache.TryGetValue(session.Key, out SessionEntry? stored) && ReferenceEquals(stored, session);
    }

    // A session ends when its entry leaves the cache for any reason but "did not fit" (never stored).
    private void ReportEnd(object? value, EvictionReason reason)
    {
        if (reason == EvictionReason.Capacity || value is not SessionEntry session) return;
        _telemetry!.Ended(session, _time.GetUtcNow() >= session.ExpiresAt ? "expired" : "deleted", session.Owner);
    }
}

/// <summary>Lets the cache's expiry follow the injected <see cref="TimeProvider"/> (tests move time by hand).</summary>
internal sealed class TimeProviderClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
{
    public DateTimeOffset UtcNow => time.GetUtcNow();
}
