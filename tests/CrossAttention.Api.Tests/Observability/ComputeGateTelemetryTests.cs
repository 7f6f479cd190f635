using CrossAttention.Core.Kernels;
using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Scheduling;
using CrossAttention.Core.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Observability;

/// <summary>
/// The gate's queue measurements and wait spans, with the queue driven by hand: a held lease keeps the only core
/// busy, so what waits is decided by the test, not by timing.
/// </summary>
public sealed class ComputeGateTelemetryTests : IDisposable
{
    private static readonly CrossAttentionModel Model = DemoModel.Create(layers: 1);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, string? Work)> _measurements = [];
    private readonly ActivityListener _spans;
    private readonly List<Activity> _finished = [];

    public ComputeGateTelemetryTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == factory) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
        Metrics = new CrossAttentionMetrics(factory);
        _spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CrossAttentionTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span => { lock (_finished) _finished.Add(span); },
        };
        ActivitySource.AddActivityListener(_spans);
    }

    private CrossAttentionMetrics Metrics { get; }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? work = null;
        foreach (var tag in tags) if (tag.Key == "work") work = (string?)tag.Value;
        lock (_measurements) _measurements.Add((instrument.Name, value, work));
    }

    private double QueueLength()
    {
        lock (_measurements) _measurements.RemoveAll(m => m.Instrument == "crossattention.compute.queue.length");
        _listener.RecordObservableInstruments();
        lock (_measurements) return _measurements.Single(m => m.Instrument == "crossattention.compute.queue.length").Value;
    }

    private (double Value, string? Work)[] Recorded(string instrument)
    {
        lock (_measurements) return _measurements.Where(m => m.Instrument == instrument).Select(m => (m.Value, m.Work)).ToArray();
    }

    private static DecodeStepJob NewStep(KeyValueCache cache, int rows)
    {
        var queries = new float[rows * Model.QueryDim]; // [rows, d_q]
        queries.AsSpan().Fill(0.25f);
        return new DecodeStepJob(Model.Layers[0], cache, queries, rows, new float[rows * Model.QueryDim]);
    }

    [Fact]
    public async Task AStepThatWaitedIsMeasuredAndItsWaitIsASpanUnderItsRequest()
    {
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: Metrics);
        var source = new float[5 * Model.SourceDim];
        source.AsSpan().Fill(0.5f);
        using var cache = Model.Layers[0].Encode(source, 5, [], ComputeOptions.Default);
        Assert.Equal(0, QueueLength());

        var lease = await gate.EnterAsync(1, CancellationToken.None);
        Activity request;
        ValueTask first, second;
        using (request = CrossAttentionTracing.Source.StartActivity("test request")!)
        {
            first = gate.DecodeAsync(NewStep(cache, 2), CancellationToken.None);
            second = gate.DecodeAsync(NewStep(cache, 3), CancellationToken.None);
        }
        var encode = gate.EnterAsync(1, CancellationToken.None);
        Assert.Equal(3, QueueLength());

        lease.Dispose(); // the core goes to the two steps (one batch), then to the waiting encode
        await first;
        await second;
        (await encode).Dispose();

        Assert.Equal(0, QueueLength());
        var waits = Recorded("crossattention.compute.queue.wait"); // crossattention_compute_queue_wait_seconds in Prometheus
        Assert.Equal(["decode_step", "decode_step", "slot"], waits.Select(w => w.Work).Order());
        Assert.All(waits, w => Assert.True(w.Value >= 0));
        Assert.Equal([2.0], Recorded("crossattention.decode.batch.steps").Select(m => m.Value));
        Assert.Equal([5.0], Recorded("crossattention.decode.batch.rows").Select(m => m.Value));
        Assert.Single(Recorded("crossattention.decode.batch.duration"));

        Activity[] spans;
        lock (_finished) spans = _finished.Where(s => s.TraceId == request.TraceId || s.Links.Any(l => l.Context.TraceId == request.TraceId)).ToArray();
        var stepWaits = spans.Where(s => s.OperationName == "compute.wait").ToArray();
        Assert.Equal(2, stepWaits.Length);
        Assert.All(stepWaits, w => Assert.Equal(request.SpanId, w.ParentSpanId));
        // The batch ran on the thread that freed the core, outside any request: a root span linked to both steps.
        var batch = Assert.Single(spans, s => s.OperationName == "decode.batch");
        Assert.Equal(2, batch.Links.Count(l => l.Context.SpanId == request.SpanId));
        Assert.Equal(2, batch.GetTagItem("crossattention.batch.steps"));
    }

    public void Dispose()
    {
        _spans.Dispose();
        _listener.Dispose();
        _services.Dispose();
    }
}
