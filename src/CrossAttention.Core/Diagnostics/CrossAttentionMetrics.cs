using System.Diagnostics;
using System.Diagnostics.Metrics;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Caching;

namespace CrossAttention.Core.Diagnostics;

/// <summary>
/// The service's own meter, <see cref="MeterName"/>: sessions and their K/V memory, lookups, refusals, session ends,
/// the compute queue, decode batches and compute time. One instance per host (created from the host's
/// <see cref="IMeterFactory"/>), handed to the places where each thing happens.
/// </summary>
/// <remarks>
/// Instrument names follow OpenTelemetry's conventions (dotted, unit in the instrument, not the name); a Prometheus
/// exporter turns <c>crossattention.compute.queue.wait</c> with unit <c>s</c> into
/// <c>crossattention_compute_queue_wait_seconds</c>.
/// </remarks>
public sealed class CrossAttentionMetrics
{
    public const string MeterName = "CrossAttention";

    /// <summary>The histogram of decode steps run together in one batch.</summary>
    public const string DecodeBatchStepsInstrument = "crossattention.decode.batch.steps";

    // Decode batches are small and fast: buckets from 50 µs to 10 s instead of the default's 5 ms to 10 s.
    private static readonly double[] SecondsBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
    private static readonly int[] CountBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

    private readonly Counter<long> _lookups;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _sessionEnds;
    private long _queueLength;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<int> _batchSteps;
    private readonly Histogram<int> _batchRows;
    private readonly Histogram<double> _batchDuration;
    private readonly Histogram<double> _encodeDuration;
    private readonly UpDownCounter<long> _requestBytesInFlight;
    private Func<(long Sessions, long Bytes)>? _sessionUsage;
    private readonly long[] _liveBytesByDType = new long[KeyValueElementTypes.Names.Count]; // by KeyValueElementType
    private Func<KeyValueLedgerSnapshot>? _ledger;

    public CrossAttentionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableUpDownCounter("crossattention.sessions", () => _sessionUsage?.Invoke().Sessions ?? 0,
            "{session}", "Live sessions (each holds one source's K/V for every layer).");
        meter.CreateObservableUpDownCounter("crossattention.kv.bytes", ObserveKeyValueBytes, "By",
            "K/V memory against Cache:SizeLimitBytes, by state: live (held by sessions, by dtype: float32, float16, " +
            "bfloat16), leased (ended sessions a decode step still reads), pooled (idle buffers kept for reuse), reserved " +
            "(encodes in progress); buffers not held by a session are plain bytes, with no dtype.");
        _lookups = meter.CreateCounter<long>("crossattention.session.lookups", "{lookup}",
            "Session lookups by id: result=hit or miss (unknown, deleted or expired).");
        _refusals = meter.CreateCounter<long>("crossattention.rejections", "{request}",
            "Requests refused for capacity or conflict, by reason (cache_full and larger_than_cache = 507, id_taken = 409).");
        _sessionEnds = meter.CreateCounter<long>("crossattention.session.ends", "{session}",
            "Sessions ended, by reason: deleted, expired, or lru (evicted to make room under Cache:WhenFull=evict-lru).");
        // Observed rather than counted, so the series exists (at 0) before anything has ever waited.
        meter.CreateObservableUpDownCounter("crossattention.compute.queue.length", () => Interlocked.Read(ref _queueLength),
            "{request}", "Requests waiting for a core.");
        _queueWait = Seconds(meter, "crossattention.compute.queue.wait",
            "Time a request waited for a core (work=decode_step or slot; slot = encodes and stateless attention).");
        _batchSteps = Sizes(meter, DecodeBatchStepsInstrument, "{step}",
            "Decode steps run together in one batch (a step run alone is a batch of one).");
        _batchRows = Sizes(meter, "crossattention.decode.batch.rows", "{row}", "Query rows in one decode batch.");
        _batchDuration = Seconds(meter, "crossattention.decode.batch.duration",
            "Compute time of one decode batch; every step in it waited this long for its result once it left the queue.");
        _encodeDuration = Seconds(meter, "crossattention.encode.duration",
            "Compute time of one encode (K and V of every layer), holding its cores; queue wait excluded.");
        _requestBytesInFlight = meter.CreateUpDownCounter<long>("crossattention.request.in_flight", "By",
            "Tensor bytes (parsed float32 sources and queries) of requests waiting for or in compute.");
    }

    private static Histogram<double> Seconds(Meter meter, string name, string description) =>
        meter.CreateHistogram(name, "s", description, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    private static Histogram<int> Sizes(Meter meter, string name, string unit, string description) =>
        meter.CreateHistogram(name, unit, description, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = CountBuckets });

    /// <summary>Reads live sessions and their bytes from the session store on each collection (set once at start).</summary>
    public void ObserveSessions(Func<(long Sessions, long Bytes)> usage) => _sessionUsage = usage;

    /// <summary>Reads the K/V ledger's bytes by state on each collection (set once at start).</summary>
    public void ObserveLedger(Func<KeyValueLedgerSnapshot> ledger) => _ledger = ledger;

    /// <summary>A session of this K/V dtype starts (positive) or ends (negative) holding <paramref name="bytes"/>.</summary>
    public void LiveKeyValueBytes(KeyValueElementType dtype, long bytes) => Interlocked.Add(ref _liveBytesByDType[(int)dtype], bytes);

    private IEnumerable<Measurement<long>> ObserveKeyValueBytes()
    {
        var live = new KeyValuePair<string, object?>("state", "live");
        for (int i = 0; i < _liveBytesByDType.Length; i++)
            yield return new Measurement<long>(Interlocked.Read(ref _liveBytesByDType[i]),
                new KeyValuePair<string, object?>("dtype", ((KeyValueElementType)i).Name()), live);
        var bytes = _ledger?.Invoke() ?? default;
        yield return new Measurement<long>(bytes.LeasedBytes, new KeyValuePair<string, object?>("state", "leased"));
        yield return new Measurement<long>(bytes.PooledBytes, new KeyValuePair<string, object?>("state", "pooled"));
        yield return new Measurement<long>(bytes.ReservedBytes, new KeyValuePair<string, object?>("state", "reserved"));
    }

    public void SessionLookup(bool hit) => _lookups.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void Refused(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void SessionEnded(string reason) => _sessionEnds.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void EncodeComputed(TimeSpan elapsed, string model) =>
        _encodeDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));

    public void RequestBytesInFlight(long delta) => _requestBytesInFlight.Add(delta);

    /// <summary>A request joins the compute queue.</summary>
    public void Enqueued() => Interlocked.Increment(ref _queueLength);

    /// <summary>
    /// A request leaves the compute queue (to run, or withdrawn when cancelled): the queue length drops and its wait
    /// is recorded, as a histogram and, when traced, as a span under the request's own.
    /// </summary>
    public void Dequeued(long enqueuedTimestamp, bool decodeStep, ActivityContext requestContext)
    {
        Interlocked.Decrement(ref _queueLength);
        var work = new KeyValuePair<string, object?>("work", decodeStep ? "decode_step" : "slot");
        _queueWait.Record(Stopwatch.GetElapsedTime(enqueuedTimestamp).TotalSeconds, work);
        CrossAttentionTracing.RecordQueueWait(enqueuedTimestamp, requestContext);
    }

    /// <summary>Measures one decode batch: its size now, its compute time when the scope ends.</summary>
    public BatchScope StartBatch(int steps, int rows, IEnumerable<ActivityContext> stepContexts)
    {
        _batchSteps.Record(steps);
        _batchRows.Record(rows);
        return new BatchScope(this, Stopwatch.GetTimestamp(), CrossAttentionTracing.StartBatch(steps, rows, stepContexts));
    }

    public readonly struct BatchScope(CrossAttentionMetrics metrics, long started, Activity? activity) : IDisposable
    {
        public void Dispose()
        {
            metrics._batchDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            activity?.Dispose();
        }
    }
}
