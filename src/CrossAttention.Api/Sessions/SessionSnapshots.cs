using System.Buffers;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;
using CrossAttention.Core.Sessions;

namespace CrossAttention.Api.Sessions;

/// <summary>
/// A stored session to and from its binary form (<see cref="SessionSnapshot"/>, docs/session-format.md): what a shared
/// tier keeps per session so that any replica can serve it. A replica that loads one stores it in its own store as it
/// would a new encode: reserved with <see cref="ISessionStore.ReserveAsync"/> before a byte is allocated, then added
/// with the same reservation.
/// </summary>
public static class SessionSnapshots
{
    public static SessionSnapshotInfo SnapshotInfo(this SessionEntry session) =>
        new(session.Owner, session.CreatedAt, session.AbsoluteExpiry, session.SlidingTtl);

    /// <summary>Writes the session's snapshot; returns its length.</summary>
    /// <exception cref="NotSupportedException">the session records attention: the record grows with every step and is
    /// not part of the format, so such a session stays with the replica that encoded it</exception>
    /// <exception cref="ObjectDisposedException">the session has ended</exception>
    public static long WriteSnapshot(this SessionEntry session, IBufferWriter<byte> destination) =>
        SessionSnapshot.Write(Snapshotable(session).Encoded, session.SnapshotInfo(), destination);

    /// <inheritdoc cref="WriteSnapshot"/>
    public static ValueTask<long> WriteSnapshotAsync(this SessionEntry session, Stream destination, CancellationToken cancellationToken) =>
        SessionSnapshot.WriteAsync(Snapshotable(session).Encoded, session.SnapshotInfo(), destination, cancellationToken);

    /// <summary>
    /// Refuses a snapshot that cannot be served as <paramref name="key"/>'s session: another owner's, of another model
    /// than <paramref name="model"/>, ended by <paramref name="now"/>, or living longer than <paramref name="maxTtl"/>.
    /// Call it on the header before reserving room for it; <see cref="LoadSnapshot"/> checks it again.
    /// </summary>
    /// <param name="maxTtl">the store's Cache:MaxTtlSeconds: the longest sliding TTL and lifetime it grants a session</param>
    /// <exception cref="SessionSnapshotException">WrongOwner, WrongModel, Expired or TtlAboveLimit, naming the session</exception>
    public static void EnsureLoadable(this SessionSnapshotHeader header, SessionKey key, CrossAttentionModel model,
        DateTimeOffset now, TimeSpan maxTtl)
    {
        ArgumentNullException.ThrowIfNull(header);
        try
        {
            if (header.Owner != key.Owner)
                throw new SessionSnapshotException(SessionSnapshotProblem.WrongOwner, "the snapshot belongs to another owner than its key names.");
            header.EnsureMatches(model);
            header.EnsureLive(now, maxTtl, maxTtl);
        }
        catch (SessionSnapshotException refused)
        {
            throw refused.ForSession(key.Id);
        }
    }

    /// <summary>
    /// The session in <paramref name="snapshot"/> (whose header is <paramref name="header"/>) as an entry for
    /// <paramref name="key"/>, in the room <paramref name="reservation"/> holds; not stored yet: the caller adds it with
    /// the same reservation. Loading counts as a use: the sliding TTL restarts at <paramref name="now"/> (the snapshot
    /// does not say when the session was last used; the shared tier's own expiry does).
    /// </summary>
    /// <param name="reservation">granted by the store the entry goes to, for <see cref="SessionSnapshotHeader.EncodedBytes"/></param>
    /// <param name="pool">that store's K/V buffer pool</param>
    /// <param name="maxTtl">that store's Cache:MaxTtlSeconds (see <see cref="EnsureLoadable"/>)</param>
    /// <exception cref="SessionSnapshotException">damaged, of another model, another owner's, expired, or living longer
    /// than <paramref name="maxTtl"/>; nothing is kept. Its <see cref="SessionSnapshotException.SessionId"/> names the
    /// session, for the error log and the client's problem (a store that reads the header itself names it the same
    /// way: <c>throw refused.ForSession(key.Id)</c>).</exception>
    public static SessionEntry LoadSnapshot(SessionKey key, SessionSnapshotHeader header, ReadOnlySequence<byte> snapshot,
        CrossAttentionModel model, SessionReservation reservation, KeyValueBufferPool pool, DateTimeOffset now, TimeSpan maxTtl)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(reservation);
        if (reservation.Token is not KeyValueReservation reserved)
            throw new ArgumentException("Loading needs a reservation granted by the store the session goes to.", nameof(reservation));
        header.EnsureLoadable(key, model, now, maxTtl);
        EncodedSource encoded;
        try
        {
            encoded = SessionSnapshot.Load(header, snapshot, model, reserved, pool);
        }
        catch (SessionSnapshotException refused)
        {
            throw refused.ForSession(key.Id);
        }
        var session = new SessionEntry(key, model, encoded, header.CreatedAt, header.SlidingTtl, header.AbsoluteExpiry - header.CreatedAt);
        session.Touch(now);
        return session;
    }

    private static SessionEntry Snapshotable(SessionEntry session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Recorder is not null)
            throw new NotSupportedException("A session that records attention cannot be written as a snapshot: its record is not part of the format.");
        return session;
    }
}
