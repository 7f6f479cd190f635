using System.Collections.Concurrent;
using CrossAttention.Api.Observability;
using CrossAttention.Api.Options;
using CrossAttention.Core.Caching;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Sessions;

/// <summary>
/// Sessions in this process: an index by owner and id, and the <see cref="KeyValueLedger"/> that decides admission and
/// eviction. With <c>Cache:WhenFull = reject</c> sessions are never evicted to make room for others (losing a client's
/// K/V mid-generation is worse than refusing a new one); with <c>evict-lru</c> the least recently used sessions that no
/// step is reading are ended to make room. Sessions also end on delete, sliding TTL or maximum lifetime: a sweep on
/// the <see cref="TimeProvider"/> ends expired ones even when nothing touches the store.
/// </summary>
/// <remarks>
/// The index is a plain concurrent dictionary rather than <c>MemoryCache</c>: the session carries its own expiry, the
/// ledger its size, and every end must reach the ledger synchronously (MemoryCache reports removals on another thread).
/// </remarks>
public sealed class InProcessSessionStore : ISessionStore, IDisposable
{
    /// <summary>How often expired sessions are looked for when nobody asks.</summary>
    public static readonly TimeSpan SweepPeriod = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<SessionKey, SessionEntry> _sessions = new();
    private readonly KeyValueLedger _ledger;
    private readonly TimeProvider _time;
    private readonly bool _evict;
    private readonly SessionTelemetry? _telemetry;
    private readonly ITimer _sweep;

    public InProcessSessionStore(KeyValueLedger ledger, IOptions<CrossAttentionOptions> options, TimeProvider time,
        SessionTelemetry? telemetry = null)
    {
        _ledger = ledger;
        _time = time;
        _telemetry = telemetry;
        _evict = CacheOptions.IsEvictLeastRecentlyUsed(options.Value.Cache.WhenFull);
        _sweep = time.CreateTimer(static store => ((InProcessSessionStore)store!).SweepExpired(), this, SweepPeriod, SweepPeriod);
    }

    public SessionStoreUsage Usage
    {
        get
        {
            var snapshot = _ledger.Snapshot;
            return new(snapshot.TotalBytes, snapshot.BudgetBytes, snapshot.LiveHoldings);
        }
    }

    public ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken)
    {
        if (TryGetLive(key) is not null) return ValueTask.FromResult(SessionReservation.Refused(SessionAddResult.AlreadyExists, bytes));
        // Expired sessions the sweep has not reached yet hold room that is no longer anyone's: they go before any live one.
        var result = _ledger.TryReserve(bytes, evictLeastRecentlyUsed: false, out var reservation);
        if (result == KeyValueReservationResult.Full && (SweepExpired() > 0 || _evict))
            result = _ledger.TryReserve(bytes, _evict, out reservation);
        return ValueTask.FromResult(result switch
        {
            KeyValueReservationResult.Reserved => SessionReservation.Granted(bytes, reservation!),
            KeyValueReservationResult.LargerThanBudget => SessionReservation.Refused(SessionAddResult.LargerThanCapacity, bytes),
            _ => SessionReservation.Refused(SessionAddResult.InsufficientStorage, bytes),
        });
    }

    public ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken)
    {
        if (reservation.Token is not KeyValueReservation reserved)
            throw new ArgumentException("Add needs a reservation granted by this store.", nameof(reservation));
        // A client may choose the id: the first add wins, an expired holder of the id is ended first.
        while (!_sessions.TryAdd(session.Key, session))
        {
            if (TryGetLive(session.Key) is not null) return ValueTask.FromResult(SessionAddResult.AlreadyExists);
        }
        session.StoredIn(this);
        session.Hold(_ledger.Hold(reserved, session.KvBytes, session));
        return ValueTask.FromResult(SessionAddResult.Stored);
    }

    public ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var session = TryGetLive(key);
        session?.Touch(_time.GetUtcNow());
        return ValueTask.FromResult(session);
    }

    public ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var session = TryGetLive(key);
        return ValueTask.FromResult(session is not null && End(session, SessionEndReason.Deleted));
    }

    /// <summary>Ends every session past its expiry; the timer calls it, and so may tests after moving the clock.</summary>
    public int SweepExpired()
    {
        var now = _time.GetUtcNow();
        int ended = 0;
        foreach (var (_, session) in _sessions)
            if (now >= session.ExpiresAt && End(session, SessionEndReason.Expired)) ended++;
        return ended;
    }

    /// <summary>The key's session if it has not expired; an expired one found here is ended on the spot.</summary>
    private SessionEntry? TryGetLive(SessionKey key)
    {
        if (!_sessions.TryGetValue(key, out var session)) return null;
        if (_time.GetUtcNow() < session.ExpiresAt) return session;
        End(session, SessionEndReason.Expired);
        return null;
    }

    /// <summary>
    /// Removes this entry (not a newer one under the same key) and ends it: its bytes leave the live count now and the
    /// ledger once no step reads them. False when someone else ended it first.
    /// </summary>
    internal bool End(SessionEntry session, SessionEndReason reason)
    {
        if (!_sessions.TryRemove(new KeyValuePair<SessionKey, SessionEntry>(session.Key, session))) return false;
        session.End();
        _telemetry?.Ended(session, reason.Tag(), session.Owner);
        return true;
    }

    public void Dispose() => _sweep.Dispose();
}

public enum SessionEndReason
{
    Deleted,
    Expired,

    /// <summary>Evicted under <c>Cache:WhenFull = evict-lru</c> to make room for a new session.</summary>
    LeastRecentlyUsed,
}

public static class SessionEndReasons
{
    /// <summary>The metric tag and log word: deleted, expired or lru.</summary>
    public static string Tag(this SessionEndReason reason) => reason switch
    {
        SessionEndReason.Deleted => "deleted",
        SessionEndReason.Expired => "expired",
        _ => "lru",
    };
}
