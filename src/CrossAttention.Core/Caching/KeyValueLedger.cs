namespace CrossAttention.Core.Caching;

/// <summary>
/// Every K/V byte the process holds, against one budget: bytes reserved by encodes in progress, bytes of live
/// sessions, bytes of ended sessions that a decode step still leases, and idle buffers kept by the pool. Admission and
/// eviction are decided here, under one lock, synchronously: an encode reserves its exact bytes before it computes,
/// and whatever is counted never exceeds <see cref="BudgetBytes"/>.
/// </summary>
/// <remarks>
/// The pool belongs to the ledger (<see cref="Pool"/>): it keeps an idle buffer only while the budget has room and
/// its share allows, and it is trimmed before an encode is refused or a session evicted for room.
/// The lock is reentrant: ending a session under it releases its buffers into the pool, which asks the ledger again.
/// </remarks>
public sealed class KeyValueLedger
{
    private readonly Lock _lock = new();
    private readonly HashSet<KeyValueHolding> _live = [];
    private long _liveBytes, _leasedBytes, _reservedBytes;

    /// <param name="budgetBytes">all K/V bytes the process may hold</param>
    /// <param name="poolShareBytes">most of the budget idle buffers may take (capped at the budget); 0 keeps none</param>
    public KeyValueLedger(long budgetBytes, long poolShareBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budgetBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(poolShareBytes);
        BudgetBytes = budgetBytes;
        Pool = new KeyValueBufferPool(Math.Min(poolShareBytes, budgetBytes), this);
    }

    public long BudgetBytes { get; }

    /// <summary>The buffer pool whose idle bytes count in this ledger.</summary>
    public KeyValueBufferPool Pool { get; }

    /// <summary>The bytes by state, read together.</summary>
    public KeyValueLedgerSnapshot Snapshot
    {
        get
        {
            lock (_lock) return new(_reservedBytes, _liveBytes, _leasedBytes, Pool.PooledBytes, _live.Count, BudgetBytes);
        }
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/> for an encode about to run: trims idle buffers, then (with
    /// <paramref name="evictLeastRecentlyUsed"/>) ends the least recently used sessions no step is reading, until they fit.
    /// </summary>
    public KeyValueReservationResult TryReserve(long bytes, bool evictLeastRecentlyUsed, out KeyValueReservation? reservation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        reservation = null;
        if (bytes > BudgetBytes) return KeyValueReservationResult.LargerThanBudget;
        lock (_lock)
        {
            while (TotalLocked + bytes > BudgetBytes)
            {
                if (Pool.Trim(TotalLocked + bytes - BudgetBytes) > 0) continue;
                if (!evictLeastRecentlyUsed || !EvictOneLocked()) return KeyValueReservationResult.Full;
            }
            _reservedBytes += bytes;
            reservation = new KeyValueReservation(this, bytes);
            return KeyValueReservationResult.Reserved;
        }
    }

    /// <summary>
    /// Turns a reservation into a holding of <paramref name="bytes"/> (the stored object's exact bytes; the caller
    /// reserved them with the same formula) owned by <paramref name="holder"/>.
    /// </summary>
    public KeyValueHolding Hold(KeyValueReservation reservation, long bytes, IKeyValueHolder holder)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ArgumentNullException.ThrowIfNull(holder);
        lock (_lock)
        {
            if (!reservation.TryConsume()) throw new InvalidOperationException("The reservation was already used or released.");
            _reservedBytes -= reservation.Bytes;
            _liveBytes += bytes;
            var holding = new KeyValueHolding(this, bytes, holder);
            _live.Add(holding);
            return holding;
        }
    }

    internal void Unreserve(KeyValueReservation reservation)
    {
        lock (_lock)
        {
            if (reservation.TryConsume()) _reservedBytes -= reservation.Bytes;
        }
    }

    /// <summary>The holder has ended (deleted, expired, evicted): its bytes stay counted as leased until released.</summary>
    internal void Ended(KeyValueHolding holding)
    {
        lock (_lock)
        {
            if (holding.State != KeyValueHoldingState.Live) return;
            _live.Remove(holding);
            _liveBytes -= holding.Bytes;
            _leasedBytes += holding.Bytes;
            holding.State = KeyValueHoldingState.Leased;
        }
    }

    /// <summary>No reader is left: the bytes leave the ledger (call before the buffers go back to the pool).</summary>
    internal void Released(KeyValueHolding holding)
    {
        lock (_lock)
        {
            switch (holding.State)
            {
                case KeyValueHoldingState.Live:
                    _live.Remove(holding);
                    _liveBytes -= holding.Bytes;
                    break;
                case KeyValueHoldingState.Leased:
                    _leasedBytes -= holding.Bytes;
                    break;
                default:
                    return;
            }
            holding.State = KeyValueHoldingState.Released;
        }
    }

    /// <summary>Whether the pool may keep an idle buffer of <paramref name="bytes"/>; if so it is counted from now on.</summary>
    internal bool TryAdmitPooled(long bytes, Func<long, bool> admit)
    {
        lock (_lock) return TotalLocked + bytes <= BudgetBytes && admit(bytes);
    }

    private long TotalLocked => _reservedBytes + _liveBytes + _leasedBytes + Pool.PooledBytes;

    // Ends the least recently used session that no step is reading (a read one would free nothing now); false when none.
    private bool EvictOneLocked()
    {
        KeyValueHolding? oldest = null;
        foreach (var holding in _live)
            if (!holding.Holder.InUse && (oldest is null || holding.Holder.LastUsedTicks < oldest.Holder.LastUsedTicks))
                oldest = holding;
        if (oldest is null) return false;
        oldest.Holder.Evict();
        // However the holder ends, it is no longer live; a step that slipped in keeps its bytes counted as leased.
        Ended(oldest);
        return true;
    }
}

/// <summary>What holds K/V bytes in the ledger (a session), as far as eviction needs to know it.</summary>
public interface IKeyValueHolder
{
    /// <summary>When it was last used (UTC ticks): the least recent goes first.</summary>
    long LastUsedTicks { get; }

    /// <summary>Whether a decode step is reading it now (then evicting it would free nothing yet).</summary>
    bool InUse { get; }

    /// <summary>Ends it because the ledger needs the room: removes it from its index and lets go of its buffers.</summary>
    void Evict();
}

public enum KeyValueReservationResult
{
    Reserved,

    /// <summary>The budget is taken by others (after trimming idle buffers and, if allowed, evicting).</summary>
    Full,

    /// <summary>More bytes than the whole budget: no policy can make it fit.</summary>
    LargerThanBudget,
}

public enum KeyValueHoldingState
{
    Live,
    Leased,
    Released,
}

/// <summary>Bytes set aside for one encode; disposing it without <see cref="KeyValueLedger.Hold"/> gives them back.</summary>
public sealed class KeyValueReservation : IDisposable
{
    private readonly KeyValueLedger _ledger;
    private int _consumed;

    internal KeyValueReservation(KeyValueLedger ledger, long bytes)
    {
        _ledger = ledger;
        Bytes = bytes;
    }

    public long Bytes { get; }

    internal bool TryConsume() => Interlocked.Exchange(ref _consumed, 1) == 0;

    public void Dispose() => _ledger.Unreserve(this);
}

/// <summary>One holder's bytes in the ledger: live, then leased while a step still reads them, then released.</summary>
public sealed class KeyValueHolding
{
    private readonly KeyValueLedger _ledger;

    internal KeyValueHolding(KeyValueLedger ledger, long bytes, IKeyValueHolder holder)
    {
        _ledger = ledger;
        Bytes = bytes;
        Holder = holder;
    }

    public long Bytes { get; }
    public IKeyValueHolder Holder { get; }

    /// <summary>Changed only under the ledger's lock.</summary>
    public KeyValueHoldingState State { get; internal set; }

    /// <summary>The holder ended (its bytes stay counted until <see cref="Release"/>).</summary>
    public void End() => _ledger.Ended(this);

    /// <summary>No reader is left; call before handing the buffers back.</summary>
    public void Release() => _ledger.Released(this);
}

/// <param name="ReservedBytes">set aside by encodes in progress</param>
/// <param name="LiveBytes">held by stored sessions</param>
/// <param name="LeasedBytes">of ended sessions a decode step still reads</param>
/// <param name="PooledBytes">idle buffers kept for reuse</param>
public readonly record struct KeyValueLedgerSnapshot(long ReservedBytes, long LiveBytes, long LeasedBytes, long PooledBytes,
    int LiveHoldings, long BudgetBytes)
{
    public long TotalBytes => ReservedBytes + LiveBytes + LeasedBytes + PooledBytes;
}
