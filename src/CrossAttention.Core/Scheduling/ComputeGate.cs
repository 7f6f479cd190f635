using System.Diagnostics;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Scheduling;

/// <summary>
/// One slot per core: a request computes only while it holds a slot, so concurrent requests never oversubscribe the
/// CPU. Requests that find every core busy wait in one first-come queue. A request that finds the other cores idle
/// and nobody waiting takes them too and its kernels split across them; under load every request computes on one core,
/// which serves more requests per second than splitting each.
/// </summary>
/// <remarks>
/// <para>
/// Decode steps that wait are batched: when a core frees up and the first waiter is a decode step, the steps of the
/// same layer waiting behind it (up to <c>maxBatchRows</c> query rows in all) run with it as one
/// <see cref="CrossAttentionLayer.DecodeBatch{TStep}"/>, which reads the layer's weights once for all of them, and
/// each session's K/V once for all of its steps. Nobody waits for a batch to fill: a step that finds a core free
/// runs at once, alone.
/// </para>
/// <para>
/// One gate per process (thread-safe; any number of callers at once). In process, the same way the HTTP service does:
/// <code>
/// var gate = new ComputeGate(Environment.ProcessorCount, maxBatchRows: 64);
/// using EncodedSource source = await gate.EncodeAsync(model, sourceRows, m, mask: default, pool, ct);
/// var output = new float[n * model.QueryDim];                       // [n, queryDim]
/// await gate.DecodeAsync(model.Layers[layer], source.Layers[layer], queries, n, output, attention: default, ct);
/// </code>
/// Each caller awaits its own step; the gate batches whichever steps happen to wait together.
/// </para>
/// </remarks>
public sealed partial class ComputeGate
{
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private readonly int _maxBatchRows;
    private readonly CrossAttentionMetrics? _metrics;
    private readonly int _maxQueuedSteps;
    private int _queuedSteps;
    private int _idle;
    private int _arrived;
    private Waiter? _head, _tail;

    /// <param name="cores">cores the gate hands out (usually <see cref="Environment.ProcessorCount"/>)</param>
    /// <param name="maxBatchRows">most query rows one batch of waiting decode steps may hold; 1 runs every step alone</param>
    /// <param name="variant">the kernel variant every computation runs with; null picks <see cref="KernelVariants.Best"/></param>
    /// <param name="metrics">where to record the queue and decode batches; null records nothing</param>
    /// <param name="maxQueuedSteps">most decode steps waiting for a core; one more is refused with <see cref="ComputeQueueFullException"/></param>
    public ComputeGate(int cores, int maxBatchRows, KernelVariant? variant = null, CrossAttentionMetrics? metrics = null,
        int maxQueuedSteps = int.MaxValue)
    {
        _metrics = metrics;
        _maxQueuedSteps = Math.Max(1, maxQueuedSteps);
        _capacity = Math.Max(1, cores);
        _maxBatchRows = Math.Max(1, maxBatchRows);
        _idle = _capacity;
        Variant = variant ?? KernelVariants.Best;
        if (!KernelVariants.IsSupported(Variant))
            throw new ArgumentException($"This CPU cannot run the {Variant} kernels.", nameof(variant));
    }

    public int Capacity => _capacity;

    /// <summary>The kernel variant every lease and decode step computes with.</summary>
    public KernelVariant Variant { get; }

    /// <summary>
    /// Counts a request from its arrival (before its body is read) until the returned scope is disposed. While more
    /// than one has arrived, a decode step computes on one core even when the others are idle: those cores are about to
    /// be busy with the other requests (reading bodies, writing responses, their own steps), and a step split across
    /// them waits for a worker that shares its core with that work (measured over HTTP: a quarter of the server's CPU
    /// went to loops opened to a busy second core). A request alone still gets every idle core: a single client's
    /// generation loop keeps its two-core latency. Callers that never arrive keep the plain rule.
    /// </summary>
    public Arrival Arrive()
    {
        Interlocked.Increment(ref _arrived);
        return new Arrival(this);
    }

    /// <summary>Requests counted by <see cref="Arrive"/> and not yet gone.</summary>
    public int Arrived => Volatile.Read(ref _arrived);

    /// <summary>One arrived request; disposing it (once) counts it gone.</summary>
    public sealed class Arrival : IDisposable
    {
        private ComputeGate? _gate;

        internal Arrival(ComputeGate gate) => _gate = gate;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _gate, null) is { } gate) Interlocked.Decrement(ref gate._arrived);
        }
    }

    /// <summary>Where the gate's users record compute time too (null when not measured).</summary>
    public CrossAttentionMetrics? Metrics => _metrics;

    /// <summary>Waits for one core, then takes whichever other cores are idle, up to <paramref name="maxThreads"/>.</summary>
    public ValueTask<Lease> EnterAsync(int maxThreads, CancellationToken cancellationToken)
    {
        maxThreads = Math.Clamp(maxThreads, 1, _capacity);
        SlotWaiter waiter;
        lock (_lock)
        {
            if (TryTakeCoreLocked(maxThreads, out int threads)) return ValueTask.FromResult(new Lease(this, threads));
            waiter = new SlotWaiter(maxThreads);
            EnqueueLocked(waiter);
        }
        return waiter.WaitAsync(this, cancellationToken);
    }

    /// <summary>Encodes a source for every layer of the model on the cores a lease gets (all idle ones, when nobody waits).</summary>
    /// <param name="source">[m, sourceDim]</param>
    /// <param name="mask">[m], 1 keep / 0 padding; empty keeps all</param>
    /// <param name="pool">where the caches' buffers come from; null allocates fresh ones</param>
    public async ValueTask<EncodedSource> EncodeAsync(CrossAttentionModel model, ReadOnlyMemory<float> source, int sourceLength,
        ReadOnlyMemory<byte> mask, KeyValueBufferPool? pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var lease = await EnterAsync(_capacity, cancellationToken);
        return model.Encode(source.Span, sourceLength, mask.Span, lease.Options, pool);
    }

    /// <summary>One decode step of one layer (see <see cref="DecodeAsync(DecodeStepJob, CancellationToken)"/>).</summary>
    /// <param name="queries">[n, queryDim]</param>
    /// <param name="output">[n, queryDim], written when the returned task completes</param>
    /// <param name="attention">[heads, n, m], or empty when the weights are not wanted</param>
    public ValueTask DecodeAsync(CrossAttentionLayer layer, KeyValueCache cache, ReadOnlyMemory<float> queries, int n,
        Memory<float> output, Memory<float> attention, CancellationToken cancellationToken) =>
        DecodeAsync(new DecodeStepJob(layer, cache, queries, n, output, attention), cancellationToken);

    /// <summary>
    /// Runs one decode step: now, on this thread, when a core is free and nobody waits; otherwise in the queue, batched
    /// with the waiting steps of the same layer.
    /// </summary>
    public ValueTask DecodeAsync(DecodeStepJob step, CancellationToken cancellationToken)
    {
        int threads;
        // Another arrived request will want a core soon (see Arrive): take one, not every idle one.
        int maxThreads = Volatile.Read(ref _arrived) > 1 ? 1 : _capacity;
        lock (_lock)
        {
            if (!TryTakeCoreLocked(maxThreads, out threads))
            {
                // A bounded queue: past it, waiting only grows every step's latency (and the memory its request holds).
                if (_queuedSteps >= _maxQueuedSteps) throw new ComputeQueueFullException(_maxQueuedSteps);
                step.PrepareToWait(); // before a core can take it from the queue
                EnqueueLocked(step);
            }
        }
        if (threads == 0) return step.WaitAsync(this, cancellationToken);
        step.Threads = threads;
        try
        {
            RunBatch([step], threads);
        }
        finally
        {
            Release(threads);
        }
        return ValueTask.CompletedTask;
    }

    /// <param name="maxThreads">between 1 and the capacity</param>
    private bool TryTakeCoreLocked(int maxThreads, out int threads)
    {
        threads = 0;
        if (_idle == 0 || _head is not null) return false;
        threads = Math.Min(maxThreads, _idle);
        _idle -= threads;
        return true;
    }

    private void RunBatch(List<DecodeStepJob> steps, int threads)
    {
        using var measured = _metrics?.StartBatch(steps.Count, steps.Sum(static s => s.Rows), steps.Select(static s => s.TraceContext));
        steps[0].Layer.DecodeBatch(steps, new ComputeOptions(Variant, threads));
    }

    /// <summary>
    /// Gives <paramref name="threads"/> cores back: one to each waiter in turn; when the last one served is a waiting
    /// encode with nobody behind it, it also gets the cores left over (up to what it asked for); the rest go idle.
    /// A decode batch gets one core: it has just emptied the queue of its layer's steps, and the next steps are
    /// already on their way.
    /// </summary>
    private void Release(int threads)
    {
        Handoff[]? handoffs = null;
        int count = 0;
        lock (_lock)
        {
            while (threads > 0 && _head is { } next)
            {
                handoffs ??= new Handoff[threads];
                Unlink(next);
                threads--;
                if (next is DecodeStepJob step)
                {
                    handoffs[count++] = new Handoff(null, 1, TakeBatchLocked(step));
                    continue;
                }
                var waiter = (SlotWaiter)next;
                int granted = 1;
                if (_head is null)
                {
                    int spare = Math.Min(threads, waiter.MaxThreads - 1);
                    threads -= spare;
                    granted += spare;
                }
                handoffs[count++] = new Handoff(waiter, granted, null);
            }
            _idle += threads;
        }
        for (int i = 0; i < count; i++)
        {
            var (waiter, granted, batch) = handoffs![i];
            if (batch is not null) ThreadPool.UnsafeQueueUserWorkItem(static s => s.Gate.RunQueued(s.Batch), (Gate: this, Batch: batch),
                preferLocal: false);
            else waiter!.Grant(new Lease(this, granted));
        }
    }

    private readonly record struct Handoff(SlotWaiter? Waiter, int Threads, List<DecodeStepJob>? Batch);

    private void RunQueued(List<DecodeStepJob> batch)
    {
        var errors = new Exception?[batch.Count];
        try
        {
            GroupByCache(batch);
            foreach (var step in batch) step.Threads = 1;
            RunBatch(batch, threads: 1);
        }
        catch (Exception) when (batch.Count > 1)
        {
            // One step's failure must not fail the steps it was batched with: each runs again alone.
            for (int i = 0; i < batch.Count; i++)
            {
                try
                {
                    RunBatch([batch[i]], threads: 1);
                }
                catch (Exception error)
                {
                    errors[i] = error;
                }
            }
        }
        catch (Exception error)
        {
            errors[0] = error;
        }
        finally
        {
            Release(1);
        }
        // The core is already someone else's; this thread now resumes each request of the batch in turn (they write
        // their responses here), rather than waking a thread per request.
        for (int i = 0; i < batch.Count; i++) batch[i].Complete(errors[i]);
    }

    /// <summary>The first step plus the waiting steps of its layer, in queue order.</summary>
    private List<DecodeStepJob> TakeBatchLocked(DecodeStepJob first)
    {
        var batch = new List<DecodeStepJob> { first };
        int rows = first.Rows;
        // The scan is bounded so an overloaded queue never holds the lock long; steps it does not reach wait their turn.
        int scanLimit = 4 * _maxBatchRows;
        for (var waiter = _head; waiter is not null && rows < _maxBatchRows && scanLimit-- > 0;)
        {
            var following = waiter.Next;
            if (waiter is DecodeStepJob step && ReferenceEquals(step.Layer, first.Layer) && rows + step.Rows <= _maxBatchRows)
            {
                Unlink(step);
                rows += step.Rows;
                batch.Add(step);
            }
            waiter = following;
        }
        return batch;
    }

    /// <summary>Puts steps on the same cache next to each other (groups in order of first appearance), so they share a K/V pass.</summary>
    private static void GroupByCache(List<DecodeStepJob> batch)
    {
        if (batch.Count < 3) return; // two steps are adjacent already
        var groups = new Dictionary<KeyValueCache, List<DecodeStepJob>>(ReferenceEqualityComparer.Instance);
        var order = new List<List<DecodeStepJob>>();
        foreach (var step in batch)
        {
            if (!groups.TryGetValue(step.Cache, out var group))
            {
                groups.Add(step.Cache, group = []);
                order.Add(group);
            }
            group.Add(step);
        }
        if (order.Count == 1 || order.Count == batch.Count) return;
        batch.Clear();
        foreach (var group in order) batch.AddRange(group);
    }

    private void EnqueueLocked(Waiter waiter)
    {
        waiter.Queued = true;
        if (waiter is DecodeStepJob) _queuedSteps++;
        waiter.EnqueuedAt = Stopwatch.GetTimestamp();
        _metrics?.Enqueued();
        waiter.Previous = _tail;
        if (_tail is null) _head = waiter;
        else _tail.Next = waiter;
        _tail = waiter;
    }

    private void Unlink(Waiter waiter)
    {
        if (waiter.Previous is null) _head = waiter.Next;
        else waiter.Previous.Next = waiter.Next;
        if (waiter.Next is null) _tail = waiter.Previous;
        else waiter.Next.Previous = waiter.Previous;
        waiter.Next = waiter.Previous = null;
        waiter.Queued = false;
        if (waiter is DecodeStepJob) _queuedSteps--;
        _metrics?.Dequeued(waiter.EnqueuedAt, waiter is DecodeStepJob, waiter.TraceContext);
    }

    /// <summary>Takes a waiter whose request was cancelled out of the queue; false if a core already took it.</summary>
    private bool TryWithdraw(Waiter waiter)
    {
        lock (_lock)
        {
            if (!waiter.Queued) return false;
            Unlink(waiter);
            return true;
        }
    }
}
