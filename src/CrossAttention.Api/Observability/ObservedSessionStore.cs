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

    public async ValueTask<SessionAddResult> AddAsync(SessionEntry session, CancellationToken cancellationToken)
    {
        using var span = CrossAttentionTracing.Source.StartActivity("session-store.add");
        var result = await inner.AddAsync(session, cancellationToken);
        span?.SetTag("crossattention.store.result", result.ToString());
        switch (result)
        {
            case SessionAddResult.Stored:
                telemetry.Created(session, session.Owner);
                break;
            case SessionAddResult.AlreadyExists:
                telemetry.Refused("id_taken", StatusCodes.Status409Conflict, session.ModelName, session.KvBytes, session.Owner);
                break;
            case SessionAddResult.InsufficientStorage:
                telemetry.Refused("cache_full", StatusCodes.Status507InsufficientStorage, session.ModelName, session.KvBytes, session.Owner);
                break;
        }
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
