namespace CrossAttention.Core.Sessions;

/// <summary>What is wrong with a session snapshot that was refused.</summary>
public enum SessionSnapshotProblem
{
    /// <summary>The input ended before the bytes its header promises.</summary>
    Truncated,

    /// <summary>The first bytes are not a session snapshot's magic.</summary>
    NotASnapshot,

    /// <summary>A format version this build does not read.</summary>
    UnsupportedVersion,

    /// <summary>A header field or a region holds a value the format does not allow (or trailing bytes follow it).</summary>
    Malformed,

    /// <summary>The snapshot is larger than the caller allows (or than one buffer can hold).</summary>
    Oversized,

    /// <summary>The content does not match its checksum: damaged in storage or in transit.</summary>
    ChecksumMismatch,

    /// <summary>A well-formed snapshot of another model (name, layers or shape differ from the model asked for).</summary>
    WrongModel,

    /// <summary>A well-formed snapshot of another owner's session (the store's key and the snapshot disagree).</summary>
    WrongOwner,

    /// <summary>The session reached the end of its lifetime (its absolute expiry) before it was loaded.</summary>
    Expired,

    /// <summary>
    /// The session's sliding TTL or lifetime is longer than the loading store grants any session (a replica configured
    /// with a larger maximum wrote it): loaded, it would outlive this store's own limit.
    /// </summary>
    TtlAboveLimit,
}

/// <summary>
/// A session snapshot was refused: nothing was kept from it, and the buffers rented for it went back to the pool. The
/// message says what was wrong, so an operator can tell a damaged blob from a model that changed; it never holds
/// tensor contents or the session's id (without API keys an id is all it takes to use a session).
/// </summary>
public sealed class SessionSnapshotException : Exception
{
    public SessionSnapshotException(SessionSnapshotProblem problem, string reason) : this(problem, reason, null, null)
    {
    }

    private SessionSnapshotException(SessionSnapshotProblem problem, string reason, string? sessionId, Exception? inner)
        : base($"Session snapshot refused ({problem}): {reason}", inner)
    {
        Problem = problem;
        Reason = reason;
        SessionId = sessionId;
    }

    public SessionSnapshotProblem Problem { get; }

    /// <summary>What was wrong, without the problem's name (the message has both).</summary>
    public string Reason { get; }

    /// <summary>
    /// The id of the stored session whose snapshot this was, when the loader named it (<see cref="ForSession"/>): the
    /// snapshot itself does not hold it. Kept out of <see cref="Exception.Message"/>, so logging the exception does
    /// not log the id.
    /// </summary>
    public string? SessionId { get; }

    /// <summary>The same refusal, naming the stored session it was for (this one, as the inner exception).</summary>
    public SessionSnapshotException ForSession(string sessionId)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        return SessionId == sessionId ? this : new(Problem, Reason, sessionId, this);
    }
}
