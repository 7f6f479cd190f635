using System.Diagnostics.Metrics;

namespace CrossAttention.Core.Diagnostics;

/// <summary>
/// A <see cref="CrossAttentionMetrics"/> on a meter of its own, for code that runs a compute gate in process without a
/// host (a benchmark, a test): each decode batch the gate reports on <see cref="Metrics"/> reaches
/// the callback with its step count, and nothing else does, neither another gate's batches nor a host's. Dispose it to
/// stop listening and end the meter.
/// </summary>
public sealed class DecodeBatchListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly OwnMeter _meter = new();

    /// <param name="decodeBatchSteps">called with the steps of each decode batch, on the thread that ran the batch</param>
    public DecodeBatchListener(Action<int> decodeBatchSteps)
    {
        ArgumentNullException.ThrowIfNull(decodeBatchSteps);
        // Instruments are published for every meter in the process; only this one's decode batches are enabled.
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meter.IsMine(instrument.Meter) && instrument.Name == CrossAttentionMetrics.DecodeBatchStepsInstrument)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<int>((_, steps, _, _) => decodeBatchSteps(steps));
        _listener.Start();
        Metrics = new CrossAttentionMetrics(_meter);
    }

    /// <summary>What to give the gate (and anything else that reports on the service's meter).</summary>
    public CrossAttentionMetrics Metrics { get; }

    public void Dispose()
    {
        _listener.Dispose();
        _meter.Dispose();
    }

    /// <summary>The factory <see cref="CrossAttentionMetrics"/> takes, handing out one meter that nobody else shares.</summary>
    private sealed class OwnMeter : IMeterFactory
    {
        private Meter? _meter;

        public bool IsMine(Meter meter) => ReferenceEquals(Volatile.Read(ref _meter), meter);

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            if (Interlocked.CompareExchange(ref _meter, meter, null) is not null)
            {
                meter.Dispose();
                throw new InvalidOperationException("This factory hands out one meter.");
            }
            return meter;
        }

        public void Dispose() => Volatile.Read(ref _meter)?.Dispose();
    }
}
