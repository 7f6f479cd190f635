using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Remembers failed allocations (an <see cref="OutOfMemoryException"/> answered 503) so the orchestrator can act:
/// readiness fails while they keep happening, so traffic moves to other instances; liveness fails when they have kept
/// happening for <see cref="SustainedFor"/>, so the process is restarted rather than left refusing everything.
/// </summary>
public sealed class AllocationHealth(TimeProvider time)
{
    /// <summary>Readiness fails for this long after a failed allocation.</summary>
    public static readonly TimeSpan RecentFor = TimeSpan.FromSeconds(15);

    /// <summary>Failures further apart than this are separate episodes (the streak starts again).</summary>
    public static readonly TimeSpan QuietGap = TimeSpan.FromSeconds(30);

    /// <summary>Liveness fails once failures have kept coming (no quiet gap) for this long.</summary>
    public static readonly TimeSpan SustainedFor = TimeSpan.FromSeconds(120);

    private readonly Lock _lock = new();
    private DateTimeOffset? _streakStart, _last;
    private long _failures;

    public long Failures => Interlocked.Read(ref _failures);

    public void RecordFailure()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_last is not { } last || now - last > QuietGap) _streakStart = now;
            _last = now;
        }
        Interlocked.Increment(ref _failures);
    }

    /// <summary>Whether allocations failed within <see cref="RecentFor"/>.</summary>
    public bool FailingRecently(out DateTimeOffset last)
    {
        lock (_lock)
        {
            last = _last ?? default;
            return _last is { } l && time.GetUtcNow() - l <= RecentFor;
        }
    }

    /// <summary>Whether failures have kept coming for <see cref="SustainedFor"/> and are still coming.</summary>
    public bool FailingSustained(out TimeSpan streak)
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            streak = _streakStart is { } start ? now - start : TimeSpan.Zero;
            return _last is { } l && now - l <= QuietGap && streak >= SustainedFor;
        }
    }
}

/// <summary>Readiness: unhealthy while allocations are failing (traffic should go elsewhere).</summary>
public sealed class AllocationReadinessCheck(AllocationHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(health.FailingRecently(out var last)
            ? HealthCheckResult.Unhealthy($"Allocations failed (out of memory), last at {last:O}; requests are being refused with 503.")
            : HealthCheckResult.Healthy($"{health.Failures} failed allocations so far."));
}

/// <summary>Liveness: unhealthy when allocations have kept failing for a sustained period (restart the process).</summary>
public sealed class AllocationLivenessCheck(AllocationHealth health) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(health.FailingSustained(out var streak)
            ? HealthCheckResult.Unhealthy($"Allocations have kept failing for {streak.TotalSeconds:0} s.")
            : HealthCheckResult.Healthy());
}

/// <summary>Readiness: unhealthy as soon as the host begins stopping, so no new traffic is routed here.</summary>
public sealed class StoppingCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("Stopping: finishing in-flight requests.")
            : HealthCheckResult.Healthy());
}
