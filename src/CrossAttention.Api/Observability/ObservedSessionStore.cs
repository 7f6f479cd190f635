using CrossAttention.Api.Sessions;
using CrossAttention.Core.Diagnostics;

namespace CrossAttention.Api.Observability;

/// <summary>
/// Wraps whichever <see cref="ISessionStore"/> is registered: a span per store call, hits and misses, sessions
/// created and refusals. (Session ends happen inside the store, on delete or expiry; it reports them itself.)
/// </summary>
public sealed class ObservedSessionStore(ISessionStore inner, SessionTelemetry telemetry) : ISessionStore, IDisposable
{
    public SessionStoreUsage Usage => inner.Usage;

    /// <summary>Refusals are counted by the caller, which knows the model (SessionTelemetry.Refused).</summary>
    public async ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken)
    {
        using var span = CrossAttentionTracing.Source.StartActivity("session-store.reserve");
        var reservation = await inner.ReserveAsync(key, bytes, cancellationToken);
        span?.SetTag("crossattention.store.result", reservation.Refusal?.ToString() ?? "Reserved");
        return reservation;
    }

    public async ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken)
    {
        using var span = CrossAttentionTracing.Source.StartActivity("session-store.add");
        var result = await inner.AddAsync(session, reservation, cancellationToken);
        span?.SetTag("crossattention.store.result", result.ToString());
        if (result == SessionAddResult.Stored) telemetry.Created(session, session.Owner);
        else telemetry.Refused(result, session.ModelName, session.KvBytes, session.Owner);
        return result;
    }

    public async ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken)
    {
        using var span = CrossAttentionTracing.Source.StartActivity("session-store.get");
        var session = await inner.GetAsync(key, cancellationToken);
        span?.SetTag("crossattention.store.hit", session is not null);
        telemetry.Lookup(session is not null);
        return session;
    }

    public async ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken)
    {
        using var span = CrossAttentionTracing.Source.StartActivity("session-store.remove");
        bool removed = await inner.RemoveAsync(key, cancellationToken);
        span?.SetTag("crossattention.store.removed", removed);
        return removed;
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();
}
