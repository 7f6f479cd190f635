using System.Threading.RateLimiting;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Options;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// The second of the two limits on /encode, PUT /sessions/{id} and /attention. Admission (the rate-limiting policy
/// <see cref="PressureSetup.ExpensivePolicy"/>, Limits:MaxAdmittedExpensiveRequests) is decided before the body is
/// read, so a refusal costs nothing; these permits (Limits:MaxConcurrentExpensiveRequests) are taken only once the
/// body has arrived, before it is parsed, so a client trickling its body holds an admission slot and its budgeted
/// bytes but never a permit that an honest encode is waiting for. Up to Limits:ExpensiveRequestQueueLength requests
/// wait for a permit, oldest first; beyond them 503 + Retry-After.
/// </summary>
public sealed class ExpensiveComputePermits : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly string _busyDetail;

    public ExpensiveComputePermits(IOptions<CrossAttentionOptions> options)
    {
        var limits = options.Value.Limits;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxConcurrentExpensiveRequests,
            QueueLimit = limits.ExpensiveRequestQueueLength,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _busyDetail = $"{limits.MaxConcurrentExpensiveRequests} encodes are computing and {limits.ExpensiveRequestQueueLength} more " +
            "are waiting (Limits:MaxConcurrentExpensiveRequests, Limits:ExpensiveRequestQueueLength). Retry shortly.";
    }

    /// <summary>Requests whose bodies have arrived, waiting for a permit now.</summary>
    public long Waiting => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>Whether the endpoint being served is behind these permits.</summary>
    public static bool AppliesTo(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == PressureSetup.ExpensivePolicy;

    /// <summary>Waits (in the bounded queue) for a permit; <see cref="ServerBusyException"/> when the queue is full.</summary>
    public async ValueTask<RateLimitLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var lease = await _limiter.AcquireAsync(1, cancellationToken);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        throw new ServerBusyException(_busyDetail);
    }

    public void Dispose() => _limiter.Dispose();
}
