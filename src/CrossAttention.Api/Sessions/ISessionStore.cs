namespace CrossAttention.Api.Sessions;

/// <summary>
/// Where sessions live. The in-process store is the default; a shared (Redis-compatible) tier can implement the same
/// contract behind session-affine routing.
/// </summary>
public interface ISessionStore
{
    /// <summary>Stores a new session, or reports that it does not fit or that its id is taken; never pretends to have stored it.</summary>
    ValueTask<SessionAddResult> AddAsync(SessionEntry session, CancellationToken cancellationToken);

    /// <summary>The live session with this id (its sliding TTL restarts), or null when unknown, deleted or expired.</summary>
    ValueTask<SessionEntry?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Removes the session; false when there was none.</summary>
    ValueTask<bool> RemoveAsync(string id, CancellationToken cancellationToken);

    /// <summary>Bytes currently held and the limit, for capacity decisions and reporting.</summary>
    SessionStoreUsage Usage { get; }
}

public enum SessionAddResult
{
    Stored,

    /// <summary>The store is full (or the session is larger than its whole capacity).</summary>
    InsufficientStorage,

    /// <summary>A live session already has this id; the existing one is untouched.</summary>
    AlreadyExists,
}

public readonly record struct SessionStoreUsage(long Bytes, long LimitBytes, long Count);
