using System.Diagnostics;
using CrossAttention.Api.Contracts;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Engine;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// One slot per core: a request computes only while it holds a slot, so concurrent requests never oversubscribe the
/// CPU. Requests that find every core busy wait in one first-come queue. A request that finds the other cores idle
/// and nobody waiting takes them too and its kernels split across them; under load every request computes on one core,
/// which serves more requests per second than splitting each.
/// </summary>
/// <remarks>
/// Decode steps that wait are batched: when a core frees up and the first waiter is a decode step, the steps of the
/// same layer waiting behind it (up to <c>maxBatchRows</c> query rows in all) run with it as one
/// <see cref="CrossAttentionLayer.DecodeBatch{TStep}"/>, which reads the layer's weights once for all of them, and
/// each session's K/V once for all of its steps. Nobody waits for a batch to fill: a step that finds a core free
/// runs at once, alone.
/// </remarks>
public sealed class ComputeGate
{
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private readonly int _maxBatchRows;
    private int _idle;
    private Waiter? _head, _tail;
    private long _decodeBatches, _decodeSteps;
    private readonly CrossAttentionMetrics? _metrics; // observability hook

    public ComputeGate(int cores, int maxBatchRows, CrossAttentionMetrics? metrics = null)
    {
        _metrics = metrics; // observability hook
        _capacity = Math.Max(1, cores);
        _maxBatchRows = Math.Max(1, maxBatchRows);
        _idle = _capacity;
    }

    public int Capacity => _capacity;

    /// <summary>Where the gate's users record compute time too (null when not measured).</summary>
    public CrossAttentionMetrics? Metrics => _metrics; // observability hook

    /// <summary>Decode batches run so far (a step run alone counts as a batch of one).</summary>
    public long DecodeBatches => Interlocked.Read(ref _decodeBatches);

    /// <summary>Decode steps run so far; over <see cref="DecodeBatches"/> it is the mean batch size.</summary>
    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);

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

    /// <summary>
    /// Runs one decode step: now, on this thread, when a core is free and nobody waits; otherwise in the queue, batched
    /// with the waiting steps of the same layer.
    /// </summary>
    public ValueTask DecodeAsync(DecodeStepJob step, CancellationToken cancellationToken)
    {
        int threads;
        lock (_lock)
        {
            if (!TryTakeCoreLocked(_capacity, out threads))
            {
                step.PrepareToWait(); // before a core can take it from the queue
                EnqueueLocked(step);
            }
        }
        if (threads == 0) return step.WaitAsync(this, cancellationToken);
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
        Interlocked.Increment(ref _decodeBatches);
        Interlocked.Add(ref _decodeSteps, steps.Count);
        using var measured = _metrics?.StartBatch(steps.Count, steps.Sum(static s => s.Rows), steps.Select(static s => s.TraceContext)); // observability hook
        steps[0].Layer.DecodeBatch(steps, new ComputeOptions(KernelVariants.Best, threads));
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
        waiter.EnqueuedAt = Stopwatch.GetTimestamp(); // observability hook
        _metrics?.Enqueued(); // observability hook
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
        _metrics?.Dequeued(waiter.EnqueuedAt, waiter is DecodeStepJob, waiter.TraceContext); // observability hook
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

    public readonly struct Lease(ComputeGate gate, int threads) : IDisposable
    {
        /// <summary>Cores this request may compute on.</summary>
        public int Threads { get; } = threads;

        public void Dispose() => gate.Release(Threads);
    }

    /// <summary>A place in the queue; guarded by the gate's lock.</summary>
    public abstract class Waiter
    {
        internal Waiter? Next, Previous;
        internal bool Queued;
        internal long EnqueuedAt; // observability hook: Stopwatch timestamp
        internal readonly ActivityContext TraceContext = Activity.Current?.Context ?? default; // observability hook: the request's span

        private protected static CancellationTokenRegistration OnCancel(ComputeGate gate, Waiter waiter,
            CancellationToken cancellationToken, Action<Waiter, CancellationToken> cancel) =>
            cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (gate, waiter, cancel) = ((ComputeGate, Waiter, Action<Waiter, CancellationToken>))state!;
                if (gate.TryWithdraw(waiter)) cancel(waiter, token);
            }, (gate, waiter, cancel));
    }

    private sealed class SlotWaiter(int maxThreads) : Waiter
    {
        private readonly TaskCompletionSource<Lease> _granted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Between 1 and the gate's capacity.</summary>
        public int MaxThreads { get; } = maxThreads;

        public void Grant(Lease lease) => _granted.SetResult(lease);

        public async ValueTask<Lease> WaitAsync(ComputeGate gate, CancellationToken cancellationToken)
        {
            using (OnCancel(gate, this, cancellationToken, static (w, token) => ((SlotWaiter)w)._granted.SetCanceled(token)))
                return await _granted.Task;
        }
    }
}

/// <summary>One request's decode step, as the gate queues and batches it.</summary>
public sealed class DecodeStepJob(CrossAttentionLayer layer, KeyValueCache cache, FloatMatrix queries, int rows,
    float[] output, float[]? attention) : ComputeGate.Waiter, IDecodeStep
{
    private TaskCompletionSource? _done;

    public CrossAttentionLayer Layer => layer;
    public KeyValueCache Cache => cache;
    public int Rows => rows;
    public ReadOnlySpan<float> Queries => queries.Values;
    public Span<float> Output => output;
    public Span<float> Attention => attention;

    // Only a step that has to wait needs something to wait on. Its request resumes on the thread that completes it:
    // the batch's thread after it has given its core back, or the canceller (never under the gate's lock).
    internal void PrepareToWait() => _done = new TaskCompletionSource();

    internal async ValueTask WaitAsync(ComputeGate gate, CancellationToken cancellationToken)
    {
        using (OnCancel(gate, this, cancellationToken, static (w, token) => ((DecodeStepJob)w)._done!.SetCanceled(token)))
            await _done!.Task;
    }

    internal void Complete(Exception? error)
    {
        if (error is null) _done!.SetResult();
        else _done!.SetException(error);
    }
}
