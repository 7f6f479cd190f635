using System.Collections.Concurrent;
using System.Numerics;

namespace CrossAttention.Core.Engine;

/// <summary>
/// Recycles the pinned buffers of K/V caches. A freshly allocated multi-megabyte array costs a page fault per 4 KiB
/// the first time it is written (on the machines measured, more than the projections themselves), so buffers of
/// caches that died are handed back here by their finalizer and given to the next cache of a similar size.
/// </summary>
/// <remarks>
/// Lengths are rounded up to one of 8 size classes per power of two, so a reused buffer wastes at most 12.5%; the
/// cache reports the full array in its bytes. The pool keeps at most <see cref="LimitBytes"/> of idle buffers and lets
/// the GC have the rest.
/// </remarks>
internal static class PinnedBufferPool
{
    private const int ClassesPerOctave = 8;
    private const long MinimumPooledLength = 16 * 1024; // floats; smaller arrays are cheap to allocate

    private static readonly ConcurrentDictionary<long, ConcurrentBag<float[]>> Idle = new();
    private static long _idleBytes;

    /// <summary>Most bytes of idle buffers kept for reuse.</summary>
    public static long LimitBytes { get; set; } = 256L << 20;

    /// <summary>Bytes of idle buffers held right now.</summary>
    public static long IdleBytes => Interlocked.Read(ref _idleBytes);

    /// <summary>A pinned array of at least <paramref name="length"/> floats, contents undefined.</summary>
    public static float[] Rent(long length)
    {
        long size = SizeClass(length);
        if (size >= MinimumPooledLength && Idle.TryGetValue(size, out var bag) && bag.TryTake(out var array))
        {
            Interlocked.Add(ref _idleBytes, -(long)array.Length * sizeof(float));
            return array;
        }
        return GC.AllocateUninitializedArray<float>(checked((int)size), pinned: true);
    }

    /// <summary>Takes back an array no one references any more (called from a cache's finalizer).</summary>
    public static void Return(float[] array)
    {
        long bytes = (long)array.Length * sizeof(float);
        if (array.Length < MinimumPooledLength || array.Length != SizeClass(array.Length)) return;
        if (Interlocked.Add(ref _idleBytes, bytes) > LimitBytes)
        {
            Interlocked.Add(ref _idleBytes, -bytes);
            return;
        }
        Idle.GetOrAdd(array.Length, static _ => new ConcurrentBag<float[]>()).Add(array);
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
