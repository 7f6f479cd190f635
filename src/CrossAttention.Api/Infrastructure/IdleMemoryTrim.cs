namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Gives memory back to the OS when the service is idle. After load ends (sessions deleted or expired, bodies gone)
/// nothing allocates, so no GC runs and the freed heap stays committed: RSS stayed at its peak for as long as was
/// watched. Every <see cref="Period"/>, when no request holds in-flight bytes and the GC heap has at least
/// <see cref="SlackBytes"/> committed beyond what is live, one aggressive (compacting, decommitting) collection runs.
/// It never runs under load (the in-flight budget is in use), and at most once a period.
/// </summary>
public sealed partial class IdleMemoryTrim(InFlightBudget budget, TimeProvider time, ILogger<IdleMemoryTrim> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(10);
    public const long SlackBytes = 64L << 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (budget.ReservedBytes != 0) continue;
                var info = GC.GetGCMemoryInfo();
                long slack = info.TotalCommittedBytes - GC.GetTotalMemory(forceFullCollection: false);
                if (slack < SlackBytes) continue;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                LogTrimmed(slack >> 20, GC.GetGCMemoryInfo().TotalCommittedBytes >> 20);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Idle: {SlackMiB} MiB committed beyond live; after an aggressive collection {CommittedMiB} MiB committed")]
    private partial void LogTrimmed(long slackMiB, long committedMiB);
}
