using CrossAttention.Api.Options;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Limits:MaxInFlightBytes: the bytes all requests together hold at once (bodies as they arrive, parsed matrices,
/// response buffers). Each request reserves before it allocates, through its <see cref="InFlightReservation"/>; a
/// reservation that would go over the budget is refused with <see cref="ServerBusyException"/> (503 + Retry-After)
/// rather than queued, so a flood of large bodies costs the process nothing beyond the budget.
/// </summary>
public sealed class InFlightBudget(IOptions<CrossAttentionOptions> options)
{
    private long _reserved;

    public long LimitBytes { get; } = options.Value.Limits.MaxInFlightBytes;

    /// <summary>Bytes reserved right now by all requests.</summary>
    public long ReservedBytes => Interlocked.Read(ref _reserved);

    public bool TryReserve(long bytes)
    {
        if (bytes <= 0) return true;
        long current = Interlocked.Read(ref _reserved);
        while (true)
        {
            if (current + bytes > LimitBytes) return false;
            long seen = Interlocked.CompareExchange(ref _reserved, current + bytes, current);
            if (seen == current) return true;
            current = seen;
        }
    }

    public void Release(long bytes)
    {
        if (bytes > 0) Interlocked.Add(ref _reserved, -bytes);
    }
}

/// <summary>
/// One request's share of the <see cref="InFlightBudget"/>: grows as the request allocates, shrinks when it gives a
/// buffer back, and returns what is left when the response has been sent (registered for dispose with the response).
/// </summary>
public sealed class InFlightReservation(InFlightBudget budget) : IDisposable
{
    private static readonly object ItemKey = new();
    private long _bytes;
    private int _disposed;

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The reservation of this request, created on first use and released after its response.</summary>
    public static InFlightReservation For(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var existing)) return (InFlightReservation)existing!;
        var reservation = new InFlightReservation(context.RequestServices.GetRequiredService<InFlightBudget>());
        context.Items[ItemKey] = reservation;
        context.Response.RegisterForDispose(reservation);
        return reservation;
    }

    /// <summary>Reserves <paramref name="bytes"/> more; throws <see cref="ServerBusyException"/> when the budget has no room.</summary>
    public void Reserve(long bytes, string what)
    {
        if (!budget.TryReserve(bytes))
            throw new ServerBusyException($"The server is holding as many request bytes as Limits:MaxInFlightBytes ({budget.LimitBytes}) " +
                $"allows; {what} needs {bytes} more. Retry shortly.");
        Interlocked.Add(ref _bytes, bytes);
        // Work that outlives its request (a step finishing after the client went away) must not leave bytes behind:
        // a reservation taken after Dispose gives them straight back, as nothing would dispose it again.
        if (Volatile.Read(ref _disposed) != 0) budget.Release(Interlocked.Exchange(ref _bytes, 0));
    }

    public void Release(long bytes)
    {
        // Taken out of this reservation atomically, so a concurrent Dispose can never give the same bytes back twice.
        long current = Interlocked.Read(ref _bytes);
        while (true)
        {
            long take = Math.Min(bytes, current);
            if (take <= 0) return;
            long seen = Interlocked.CompareExchange(ref _bytes, current - take, current);
            if (seen == current)
            {
                budget.Release(take);
                return;
            }
            current = seen;
        }
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        budget.Release(Interlocked.Exchange(ref _bytes, 0));
    }
}

/// <summary>The server has no room for this request right now (in-flight budget, request queue): 503 + Retry-After.</summary>
public sealed class ServerBusyException(string message) : Exception(message)
{
    /// <summary>Seconds a refused client is told to wait: in-flight bytes are freed as requests finish, within a second or so.</summary>
    public const int RetryAfterSeconds = 1;
}
