namespace CrossAttention.Api.Sessions;

/// <summary>
/// Where sessions live. The in-process store is the default; a shared (Redis-compatible) tier can implement the same
/// contract behind session-affine routing.
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Stores a new session under its <see cref="SessionEntry.Key"/> (owner and id), or reports that it does not fit or
    /// that this owner already has the id; never pretends to have stored it.
    /// </summary>
    ValueTask<SessionAddResult> AddAsync(SessionEntry session, CancellationToken cancellationToken);

    /// <summary>
    /// The owner's live session with this id (its sliding TTL restarts), or null when unknown, deleted, expired, or
    /// another owner's.
    /// </summary>
    ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken);

    /// <summary>Removes the owner's session; false when the owner has none with this id.</summary>
    ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken);

    /// <summary>Bytes currently held and the limit, for capacity decisions and reporting.</summary>
    SessionStoreUsage Usage { get; }
}

public enum SessionAddResult
{
    Stored,

    /// <summary>The store is full (or the session is larger than its whole capacity).</summary>
    InsufficientStorage,

    /// <summary>A live session of the same owner already has this id; the existing one is untouched.</summary>
    AlreadyExists,
}

public readonly record struct SessionStoreUsage(long Bytes, long LimitBytes, long Count);
