using CrossAttention.Api.Sessions;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// The session store, with one addition: looking up the example session's id encodes and stores it when it is not
/// there, so the documented examples always name a live session without the document storing anything.
/// </summary>
public sealed class ExampleSessionStore(ISessionStore inner, ExampleSession example) : ISessionStore
{
    public SessionStoreUsage Usage => inner.Usage;

    public ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken) =>
        inner.ReserveAsync(key, bytes, cancellationToken);

    public ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken) =>
        inner.AddAsync(session, reservation, cancellationToken);

    public ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken) => inner.RemoveAsync(key, cancellationToken);

    public async ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var session = await inner.GetAsync(key, cancellationToken);
        if (session is not null || key.Id != example.Id) return session;
        if (example.Model is not { } model) return null;
        // Reserved before it is encoded, like any session; refused (taken meanwhile, or no room) means look again.
        using var reservation = await inner.ReserveAsync(key, model.EncodedBytes(ExampleSession.SourceRows), cancellationToken);
        if (!reservation.IsGranted) return await inner.GetAsync(key, cancellationToken);
        if (await example.EncodeAsync(model, key, cancellationToken) is not { } created) return null;
        var added = await inner.AddAsync(created, reservation, cancellationToken);
        if (added == SessionAddResult.Stored) return created;
        created.Encoded.Dispose();
        // Another request stored it first (AlreadyExists), or the cache is full (then there is none).
        return await inner.GetAsync(key, cancellationToken);
    }
}
