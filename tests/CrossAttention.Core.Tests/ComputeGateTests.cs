using CrossAttention.Core.Diagnostics;
using System.Collections.Concurrent;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Scheduling;

namespace CrossAttention.Core.Tests;

/// <summary>
/// The gate's queue, driven by hand: a held lease keeps the only core busy, so which steps wait, and what runs
/// together when it frees, is decided by the test and not by timing.
/// </summary>
public class ComputeGateTests
{
    private static readonly CrossAttentionModel Model = DemoModel.Create(layers: 2);

    private sealed record Step(DecodeStepJob Job, KeyValueCache Cache, float[] Queries, float[] Output, int Layer);

    private static KeyValueCache Encode(int layer, int m, int seed)
    {
        var source = Values(m * Model.SourceDim, seed);
        return Model.Layers[layer].Encode(source, m, [], ComputeOptions.Default);
    }

    private static Step NewStep(KeyValueCache cache, int layer, int rows, int seed)
    {
        var queries = Values(rows * Model.QueryDim, seed);
        var output = new float[rows * Model.QueryDim];
        var job = new DecodeStepJob(Model.Layers[layer], cache, queries, rows, output);
        return new Step(job, cache, queries, output, layer);
    }

    private static float[] Values(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static void AssertSameAsAlone(Step step)
    {
        var alone = new float[step.Output.Length];
        Model.Layers[step.Layer].Decode(step.Cache, step.Queries, step.Output.Length / Model.QueryDim, alone, [],
            ComputeOptions.Default);
        Assert.Equal(alone, step.Output);
    }

    /// <summary>Queues the steps while a lease holds the gate's only core, then frees it and waits for them all.</summary>
    private static async Task RunBehindABusyCore(ComputeGate gate, Step[] steps)
    {
        var lease = await gate.EnterAsync(1, CancellationToken.None);
        var runs = steps.Select(s => gate.DecodeAsync(s.Job, CancellationToken.None).AsTask()).ToArray();
        Assert.All(runs, r => Assert.False(r.IsCompleted));
        lease.Dispose();
        await Task.WhenAll(runs);
    }

    [Fact]
    public async Task AStepThatFindsACoreFreeRunsAtOnceAlone()
    {
        using var batches = new BatchSizes();
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: batches.Metrics);
        var step = NewStep(Encode(0, 11, 1), 0, 2, 2);

        var run = gate.DecodeAsync(step.Job, CancellationToken.None);

        Assert.True(run.IsCompletedSuccessfully);
        await run;
        Assert.Equal([1], batches.Recorded);
        AssertSameAsAlone(step);
    }

    [Fact]
    public async Task AStepAloneTakesEveryIdleCoreButOneCoreWhileAnotherRequestHasArrived()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var cache = Encode(0, 11, 1);

        var alone = NewStep(cache, 0, 1, 2);
        using (gate.Arrive())
            await gate.DecodeAsync(alone.Job, CancellationToken.None);
        Assert.Equal(2, alone.Job.Threads); // the only request: both cores

        var crowded = NewStep(cache, 0, 1, 3);
        using (gate.Arrive())
        using (gate.Arrive()) // another request on its way (its body still arriving)
            await gate.DecodeAsync(crowded.Job, CancellationToken.None);
        Assert.Equal(1, crowded.Job.Threads);
        Assert.Equal(0, gate.Arrived);

        var after = NewStep(cache, 0, 1, 4);
        await gate.DecodeAsync(after.Job, CancellationToken.None);
        Assert.Equal(2, after.Job.Threads); // callers that never arrive keep the plain rule
        AssertSameAsAlone(alone);
        AssertSameAsAlone(crowded);
        AssertSameAsAlone(after);
    }

    [Fact]
    public void AnArrivalIsCountedGoneOnceHoweverOftenItIsDisposed()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var first = gate.Arrive();
        var second = gate.Arrive();
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, gate.Arrived);
        second.Dispose();
        Assert.Equal(0, gate.Arrived);
    }

    [Fact]
    public async Task EachGatesBatchesReachOnlyItsOwnListener()
    {
        // What every batch count in these tests relies on (test classes run in parallel, each gate on the same meter name).
        var firstSizes = new ConcurrentQueue<int>();
        using var firstListener = new DecodeBatchListener(firstSizes.Enqueue);
        var secondSizes = new ConcurrentQueue<int>();
        using var secondListener = new DecodeBatchListener(secondSizes.Enqueue);
        var firstGate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: firstListener.Metrics);
        var secondGate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: secondListener.Metrics);

        await firstGate.DecodeAsync(NewStep(Encode(0, 6, 1), 0, 1, 2).Job, CancellationToken.None);
        await secondGate.DecodeAsync(NewStep(Encode(1, 6, 3), 1, 2, 4).Job, CancellationToken.None);
        await firstGate.DecodeAsync(NewStep(Encode(0, 6, 5), 0, 1, 6).Job, CancellationToken.None);

        Assert.Equal([1, 1], firstSizes.ToArray());
        Assert.Equal([1], secondSizes.ToArray());
        secondListener.Dispose();
        await secondGate.DecodeAsync(NewStep(Encode(1, 6, 7), 1, 1, 8).Job, CancellationToken.None);
        Assert.Equal([1], secondSizes.ToArray()); // nothing after Dispose
    }

    [Fact]
    public async Task StepsThatWaitedForTheLayerRunAsOneBatchAndEachGetsItsOwnExactResult()
    {
        using var batches = new BatchSizes();
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: batches.Metrics);
        KeyValueCache first = Encode(0, 11, 1), second = Encode(0, 5, 3);
        var steps = new[] { NewStep(first, 0, 1, 10), NewStep(second, 0, 3, 11), NewStep(first, 0, 2, 12), NewStep(second, 0, 1, 13) };

        await RunBehindABusyCore(gate, steps);

        Assert.Equal([4], batches.Recorded);
        Assert.All(steps, AssertSameAsAlone);
    }

    [Fact]
    public async Task ABatchHoldsAtMostMaxRowsAndOtherLayersWaitTheirOwnTurn()
    {
        using var batches = new BatchSizes();
        var gate = new ComputeGate(cores: 1, maxBatchRows: 3, metrics: batches.Metrics);
        KeyValueCache layer0 = Encode(0, 7, 1), layer1 = Encode(1, 7, 2);
        var steps = new[]
        {
            NewStep(layer0, 0, 2, 10), NewStep(layer1, 1, 1, 11), NewStep(layer0, 0, 2, 12), NewStep(layer0, 0, 1, 13),
        };

        await RunBehindABusyCore(gate, steps);

        // [0: 2 rows + the 1-row step] then [layer 1] then [the 2-row step of layer 0 that did not fit].
        Assert.Equal([2, 1, 1], batches.Recorded);
        Assert.All(steps, AssertSameAsAlone);
    }

    [Fact]
    public async Task ACancelledWaitingStepLeavesTheQueueAndNeverRuns()
    {
        using var batches = new BatchSizes();
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64, metrics: batches.Metrics);
        var cache = Encode(0, 9, 1);
        var kept = NewStep(cache, 0, 1, 10);
        var dropped = NewStep(cache, 0, 1, 11);
        using var cancel = new CancellationTokenSource();

        var lease = await gate.EnterAsync(1, CancellationToken.None);
        var droppedRun = gate.DecodeAsync(dropped.Job, cancel.Token).AsTask();
        var keptRun = gate.DecodeAsync(kept.Job, CancellationToken.None).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => droppedRun);
        lease.Dispose();
        await keptRun;

        Assert.Equal([1], batches.Recorded);
        Assert.All(dropped.Output, v => Assert.Equal(0f, v));
        AssertSameAsAlone(kept);
    }

    [Fact]
    public async Task AStepPastTheQueueBoundIsRefusedAndTheQueueRefillsAsStepsLeave()
    {
        var gate = new ComputeGate(cores: 1, maxBatchRows: 1, maxQueuedSteps: 2);
        var cache = Encode(0, 9, 1);
        var steps = Enumerable.Range(0, 4).Select(i => NewStep(cache, 0, 1, 20 + i)).ToArray();

        var lease = await gate.EnterAsync(1, CancellationToken.None);
        var first = gate.DecodeAsync(steps[0].Job, CancellationToken.None).AsTask();
        var second = gate.DecodeAsync(steps[1].Job, CancellationToken.None).AsTask();
        var refused = Assert.Throws<ComputeQueueFullException>(() => gate.DecodeAsync(steps[2].Job, CancellationToken.None));
        Assert.Equal(2, refused.MaxQueuedSteps);
        Assert.All(steps[2].Output, v => Assert.Equal(0f, v)); // nothing computed for it
        lease.Dispose();
        await Task.WhenAll(first, second);

        await gate.DecodeAsync(steps[3].Job, CancellationToken.None); // the queue emptied: room again
        AssertSameAsAlone(steps[0]);
        AssertSameAsAlone(steps[3]);
    }

    [Fact]
    public async Task WaitersAreServedFirstComeFirstServed()
    {
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64);
        var step = NewStep(Encode(0, 9, 1), 0, 1, 10);

        var held = await gate.EnterAsync(1, CancellationToken.None);
        var encodeWaiting = gate.EnterAsync(1, CancellationToken.None).AsTask();
        var stepWaiting = gate.DecodeAsync(step.Job, CancellationToken.None).AsTask();
        held.Dispose();
        var encodeLease = await encodeWaiting;

        Assert.False(stepWaiting.IsCompleted); // the core went to the encode that queued first
        encodeLease.Dispose();
        await stepWaiting;
        AssertSameAsAlone(step);
    }

    [Fact]
    public async Task AWaiterTakesTheCoresIdleWhenItsTurnComesAndACallerFindingAllIdleTakesAll()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var first = await gate.EnterAsync(1, CancellationToken.None);
        var second = await gate.EnterAsync(1, CancellationToken.None);
        var encodeWaiting = gate.EnterAsync(2, CancellationToken.None).AsTask();

        first.Dispose();
        var lease = await encodeWaiting;
        Assert.Equal(1, lease.Threads); // the other core is still busy
        second.Dispose();
        lease.Dispose();

        var whole = await gate.EnterAsync(2, CancellationToken.None);
        Assert.Equal(2, whole.Threads);
        whole.Dispose();
        Assert.Equal(1, (await gate.EnterAsync(1, CancellationToken.None)).Threads);
    }

    [Fact]
    public async Task AWaitingEncodeGetsTheCoresReturnedWithNobodyBehindIt()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var whole = await gate.EnterAsync(2, CancellationToken.None);
        var encodeWaiting = gate.EnterAsync(2, CancellationToken.None).AsTask();

        whole.Dispose();

        Assert.Equal(2, (await encodeWaiting).Threads);
    }

    [Fact]
    public async Task AFailingStepFailsAloneAndTheStepsBatchedWithItStillGetTheirResults()
    {
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64);
        var cache = Encode(0, 9, 1);
        var good = new[] { NewStep(cache, 0, 1, 10), NewStep(cache, 0, 2, 11) };
        var bad = new DecodeStepJob(Model.Layers[0], cache, new float[Model.QueryDim + 1], 1, new float[Model.QueryDim]);

        var lease = await gate.EnterAsync(1, CancellationToken.None);
        var goodRuns = good.Select(s => gate.DecodeAsync(s.Job, CancellationToken.None).AsTask()).ToList();
        var badRun = gate.DecodeAsync(bad, CancellationToken.None).AsTask();
        lease.Dispose();

        await Assert.ThrowsAsync<ArgumentException>(() => badRun);
        await Task.WhenAll(goodRuns);
        Assert.All(good, AssertSameAsAlone);
        // The core came back: a new caller gets it at once.
        Assert.True(gate.EnterAsync(1, CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AWaiterAskingForNoCoresGetsOneAndNoCoreIsCountedTwice()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var first = await gate.EnterAsync(1, CancellationToken.None);
        var second = await gate.EnterAsync(1, CancellationToken.None);
        var waiting = gate.EnterAsync(0, CancellationToken.None).AsTask();

        first.Dispose();
        var lease = await waiting;
        Assert.Equal(1, lease.Threads);
        lease.Dispose();
        second.Dispose();

        var whole = await gate.EnterAsync(2, CancellationToken.None);
        Assert.Equal(2, whole.Threads);
        Assert.False(gate.EnterAsync(1, CancellationToken.None).IsCompleted); // both cores are taken: no third
    }

    [Fact]
    public async Task ALeaseDisposedTwiceGivesItsCoreBackOnce()
    {
        var gate = new ComputeGate(cores: 1, maxBatchRows: 64);
        var lease = await gate.EnterAsync(1, CancellationToken.None);
        lease.Dispose();
        lease.Dispose();

        using var next = await gate.EnterAsync(1, CancellationToken.None);
        var third = gate.EnterAsync(1, CancellationToken.None);
        Assert.False(third.IsCompleted); // one core, and it is taken: the double dispose made no second one
        next.Dispose();
        (await third).Dispose();
    }

    [Fact]
    public async Task EveryLeaseComputesWithTheGatesVariant()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64, KernelVariant.Scalar);
        using var lease = await gate.EnterAsync(2, CancellationToken.None);
        Assert.Equal(new ComputeOptions(KernelVariant.Scalar, 2), lease.Options);
        Assert.Equal(KernelVariants.Best, new ComputeGate(1, 64).Variant);
        Assert.Throws<ArgumentException>(() => new ComputeGate(1, 64, (KernelVariant)9));
    }

    [Fact]
    public async Task EncodeAndDecodeThroughTheGateGiveWhatTheModelGivesDirectly()
    {
        var gate = new ComputeGate(cores: 2, maxBatchRows: 64);
        var pool = new KeyValueBufferPool(limitBytes: 1L << 20);
        int m = 13, n = 3;
        float[] source = Values(m * Model.SourceDim, 7), queries = Values(n * Model.QueryDim, 8);
        byte[] mask = Enumerable.Range(0, m).Select(j => (byte)(j % 4 == 3 ? 0 : 1)).ToArray();

        using var encoded = await gate.EncodeAsync(Model, source, m, mask, pool, CancellationToken.None);
        var output = new float[n * Model.QueryDim];
        var attention = new float[Model.Heads * n * m];
        await gate.DecodeAsync(Model.Layers[1], encoded.Layers[1], queries, n, output, attention, CancellationToken.None);

        using var direct = Model.Encode(source, m, mask, ComputeOptions.Default);
        var expected = new float[output.Length];
        var expectedAttention = new float[attention.Length];
        Model.Layers[1].Decode(direct.Layers[1], queries, n, expected, expectedAttention, ComputeOptions.Default);
        Assert.Equal(expected, output);
        Assert.Equal(expectedAttention, attention);
    }

    /// <summary>The decode batch sizes one gate records, read through its own meter (no other gate's can mix in).</summary>
    private sealed class BatchSizes : IDisposable
    {
        private readonly ConcurrentQueue<int> _sizes = new();
        private readonly DecodeBatchListener _listener;

        public BatchSizes() => _listener = new DecodeBatchListener(_sizes.Enqueue);

        public CrossAttentionMetrics Metrics => _listener.Metrics;

        public int[] Recorded => _sizes.ToArray();

        public void Dispose() => _listener.Dispose();
    }
}
