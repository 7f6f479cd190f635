using System.Collections.Concurrent;
using System.Numerics;

namespace CrossAttention.Core.Caching;

/// <summary>
/// Recycles the pinned byte buffers of K/V caches. A freshly allocated multi-megabyte array costs a page fault per
/// 4 KiB the first time it is written (on the machines measured, more than the projections themselves), so a cache
/// that ends hands its buffers back here (<see cref="KeyValueCache.Dispose"/>) and the next cache of a similar size
/// takes them.
/// </summary>
/// <remarks>
/// Sizes are rounded up to one of 8 size classes per power of two, so a reused buffer wastes at most 12.5%; the
/// cache reports the full buffer in its bytes. The pool keeps at most <see cref="LimitBytes"/> of idle buffers and lets
/// the GC have the rest; a pool made by a <see cref="KeyValueLedger"/> also keeps one only while the ledger's budget has
/// room, and gives buffers up when the ledger trims it. One pool per service (the API registers it as a singleton);
/// thread-safe.
/// </remarks>
public sealed class KeyValueBufferPool
{
    private const int ClassesPerOctave = 8;
    private const long MinimumPooledBytes = 64 * 1024; // smaller arrays are cheap to allocate

    private readonly ConcurrentDictionary<long, ConcurrentBag<byte[]>> _idle = new();
    private readonly KeyValueLedger? _ledger;
    private long _pooledBytes;

    /// <param name="limitBytes">most bytes of idle buffers kept for reuse; 0 keeps none</param>
    public KeyValueBufferPool(long limitBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limitBytes);
        LimitBytes = limitBytes;
    }

    internal KeyValueBufferPool(long limitBytes, KeyValueLedger ledger) : this(limitBytes) => _ledger = ledger;

    public long LimitBytes { get; }

    /// <summary>Bytes of idle buffers held for reuse right now (in no cache's bytes).</summary>
    public long PooledBytes => Interlocked.Read(ref _pooledBytes);

    /// <summary>A pinned array of at least <paramref name="bytes"/> bytes, contents undefined.</summary>
    public byte[] Rent(long bytes)
    {
        long size = SizeClass(bytes);
        if (size >= MinimumPooledBytes && _idle.TryGetValue(size, out var bag) && bag.TryTake(out var array))
        {
            Interlocked.Add(ref _pooledBytes, -array.Length);
            return array;
        }
        return Allocate(size);
    }

    /// <summary>A pinned array of the size class of <paramref name="bytes"/>, for callers without a pool.</summary>
    internal static byte[] Allocate(long bytes) =>
        GC.AllocateUninitializedArray<byte>(checked((int)SizeClass(bytes)), pinned: true);

    /// <summary>Takes back an array nothing reads any more; keeps it if it is a size class and the limit allows.</summary>
    public void Return(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        long bytes = array.Length;
        if (bytes < MinimumPooledBytes || bytes != SizeClass(bytes)) return;
        if (!(_ledger?.TryAdmitPooled(bytes, TryCount) ?? TryCount(bytes))) return;
        _idle.GetOrAdd(bytes, static _ => new ConcurrentBag<byte[]>()).Add(array);
    }

    // Counts an idle buffer if the limit allows (under the ledger's lock when there is one).
    private bool TryCount(long bytes)
    {
        if (Interlocked.Add(ref _pooledBytes, bytes) <= LimitBytes) return true;
        Interlocked.Add(ref _pooledBytes, -bytes);
        return false;
    }

    /// <summary>Lets the GC have idle buffers until at least <paramref name="bytes"/> are dropped or none is left.</summary>
    /// <returns>the bytes dropped</returns>
    public long Trim(long bytes)
    {
        long dropped = 0;
        foreach (var bag in _idle.Values)
        {
            while (dropped < bytes && bag.TryTake(out var array))
            {
                Interlocked.Add(ref _pooledBytes, -array.Length);
                dropped += array.Length;
            }
            if (dropped >= bytes) break;
        }
        return dropped;
    }

    /// <summary>The smallest size class ≥ length: 8 evenly spaced sizes per power of two.</summary>
    internal static long SizeClass(long length)
    {
        if (length <= ClassesPerOctave) return Math.Max(length, 1);
        int octave = 63 - BitOperations.LeadingZeroCount((ulong)(length - 1)); // 2^octave < length ≤ 2^(octave+1)
        long step = Math.Max(1L << octave >> 3, 1);
        return (length + step - 1) / step * step;
    }
}
