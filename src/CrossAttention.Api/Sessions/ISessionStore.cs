namespace CrossAttention.Api.Sessions;

/// <summary>
/// Where sessions live. The in-process store is the default; a shared (Redis-compatible) tier can implement the same
/// contract behind session-affine routing.
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Sets aside <paramref name="bytes"/> (the exact bytes the session will hold) for a session about to be encoded under
    /// <paramref name="key"/>, before any compute is spent; refused when this owner already has a live session with the
    /// id or the bytes do not fit. The caller disposes the reservation if the encode fails or is cancelled.
    /// </summary>
    ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new session under its <see cref="SessionEntry.Key"/> (owner and id) in the room reserved for it, or
    /// reports that this owner took the id meanwhile; never pretends to have stored it. Stored or not, the reservation
    /// is used up: the caller disposes it (a no-op once stored) and, if not stored, the session's K/V.
    /// </summary>
    ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken);

    /// <summary>
    /// The owner's live session with this id (its sliding TTL restarts), or null when unknown, deleted, expired, or
    /// another owner's. A store that loads sessions from a shared tier and has no room for this one throws
    /// ServerBusyException (503, retry) rather than answering null for a session that exists.
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

    /// <summary>The store is full.</summary>
    InsufficientStorage,

    /// <summary>The session is larger than the store's whole capacity: no wait or eviction can make it fit.</summary>
    LargerThanCapacity,

    /// <summary>A live session of the same owner already has this id; the existing one is untouched.</summary>
    AlreadyExists,
}

public readonly record struct SessionStoreUsage(long Bytes, long LimitBytes, long Count);

/// <summary>
/// Room set aside for one session before it is encoded, or why there is none. Dispose it when done: it gives the room
/// back unless the session was stored in it.
/// </summary>
public sealed class SessionReservation : IDisposable
{
    private SessionReservation(SessionAddResult? refusal, long bytes, IDisposable? token)
    {
        Refusal = refusal;
        Bytes = bytes;
        Token = token;
    }

    /// <summary>Null when granted; else InsufficientStorage, LargerThanCapacity or AlreadyExists.</summary>
    public SessionAddResult? Refusal { get; }

    public bool IsGranted => Refusal is null;
    public long Bytes { get; }

    /// <summary>
    /// The store's own handle on the room (the in-process ledger's reservation; a remote tier's lease on its budget),
    /// read back by the store that granted it; disposing it gives the room back if no session was stored in it.
    /// </summary>
    public IDisposable? Token { get; }

    public static SessionReservation Granted(long bytes, IDisposable token) => new(null, bytes, token);

    public static SessionReservation Refused(SessionAddResult reason, long bytes) => new(reason, bytes, null);

    public void Dispose() => Token?.Dispose();
}
