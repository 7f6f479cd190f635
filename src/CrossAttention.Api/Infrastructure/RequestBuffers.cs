using System.Buffers;
using System.Numerics;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Byte buffers for request bodies and parsed matrices, each reserved against the request's share of
/// Limits:MaxInFlightBytes before it is allocated. Small ones come from the shared pool; large ones are plain arrays
/// the GC takes back, because the shared pool keeps what it is given per core and per size for as long as the process
/// lives (after a burst of 32 MiB bodies that was gigabytes of resident memory never returned).
/// </summary>
internal static class RequestBuffers
{
    /// <summary>The largest buffer the pool hands out and takes back (a power of two, so pooled sizes stay within it).</summary>
    public const int PooledLimit = 1 << 20;

    /// <summary>Reserves, then allocates, at least <paramref name="minimumLength"/> bytes.</summary>
    public static byte[] Rent(int minimumLength, InFlightReservation? reservation, string what)
    {
        bool pooled = minimumLength <= PooledLimit;
        reservation?.Reserve(pooled ? (long)BitOperations.RoundUpToPowerOf2((uint)Math.Max(minimumLength, 16)) : minimumLength, what);
        return pooled ? ArrayPool<byte>.Shared.Rent(minimumLength) : GC.AllocateUninitializedArray<byte>(minimumLength);
    }

    /// <summary>Gives a buffer back (to the pool when it came from there) and releases its reservation.</summary>
    public static void Return(byte[] buffer, InFlightReservation? reservation)
    {
        if (buffer.Length == 0) return;
        if (buffer.Length <= PooledLimit) ArrayPool<byte>.Shared.Return(buffer);
        reservation?.Release(buffer.Length);
    }
}
