using System.Diagnostics;

namespace CrossAttention.Core.Diagnostics;

/// <summary>
/// The service's spans, source <see cref="SourceName"/>: encode, decode step, the wait for a core, decode batches
/// and session store calls. Spans cost nothing unless a listener (an OpenTelemetry tracer) samples them.
/// </summary>
public static class CrossAttentionTracing
{
    public const string SourceName = "CrossAttention";

    /// <summary>An ActivitySource is process-wide by design: listeners subscribe by name, not by instance.</summary>
    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>
    /// The wait for a core, as a span under the waiting request's span. The queue cannot hold a span open across
    /// threads, so it is written afterwards with its real start and end times.
    /// </summary>
    internal static void RecordQueueWait(long enqueuedTimestamp, ActivityContext requestContext)
    {
        if (requestContext == default || !Source.HasListeners()) return;
        var now = DateTime.UtcNow;
        using var span = Source.CreateActivity("compute.wait", ActivityKind.Internal, requestContext);
        if (span is null) return;
        span.SetStartTime(now - Stopwatch.GetElapsedTime(enqueuedTimestamp));
        span.Start();
        span.SetEndTime(now);
    }

    /// <summary>A decode batch: a child of the step that runs it inline, else a root span linked to every step in it.</summary>
    internal static Activity? StartBatch(int steps, int rows, IEnumerable<ActivityContext> stepContexts)
    {
        if (!Source.HasListeners()) return null;
        var links = stepContexts.Where(c => c != default).Select(c => new ActivityLink(c));
        var span = Source.StartActivity(ActivityKind.Internal, Activity.Current?.Context ?? default,
            [new("crossattention.batch.steps", steps), new("crossattention.batch.rows", rows)], links, name: "decode.batch");
        return span;
    }
}
