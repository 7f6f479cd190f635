using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

public class KernelParallelTests
{
    private unsafe struct CountingBody : IParallelBody
    {
        public int* Counts;

        public readonly void Invoke(int index) => Interlocked.Increment(ref Counts[index]);
    }

    private struct ThrowingBody : IParallelBody
    {
        public readonly void Invoke(int index)
        {
            if (index == 3) throw new InvalidOperationException("item 3");
        }
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(7, 1)]
    [InlineData(64, 2)]
    [InlineData(1000, 8)]
    public unsafe void EveryIndexRunsExactlyOnce(int count, int maxThreads)
    {
        var counts = new int[Math.Max(count, 1)];
        fixed (int* p = counts)
        {
            for (int round = 0; round < 50; round++)
            {
                var body = new CountingBody { Counts = p };
                KernelParallel.For(count, maxThreads, ref body);
            }
        }
        for (int i = 0; i < count; i++) Assert.Equal(50, counts[i]);
    }

    [Fact]
    public unsafe void ConcurrentCallersAllFinishTheirOwnLoops()
    {
        const int callers = 4, count = 200;
        var counts = new int[callers * count];
        fixed (int* p = counts)
        {
            int* basePointer = p;
            Parallel.For(0, callers, caller =>
            {
                for (int round = 0; round < 20; round++)
                {
                    var body = new CountingBody { Counts = basePointer + caller * count };
                    KernelParallel.For(count, 2, ref body);
                }
            });
        }
        Assert.All(counts, c => Assert.Equal(20, c));
    }

    [Fact]
    public void AnExceptionInTheBodyReachesTheCaller()
    {
        var body = new ThrowingBody();
        var error = Assert.Throws<InvalidOperationException>(() => KernelParallel.For(16, 2, ref body));
        Assert.Equal("item 3", error.Message);
        // The loop is usable again afterwards.
        var counts = new int[8];
        unsafe
        {
            fixed (int* p = counts)
            {
                var counting = new CountingBody { Counts = p };
                KernelParallel.For(8, 2, ref counting);
            }
        }
        Assert.All(counts, c => Assert.Equal(1, c));
    }
    /// <summary>Marks an item as run and, at the halfway item, lets a held-back worker go.</summary>
    private unsafe struct ReleasingBody : IParallelBody
    {
        public int* Counts;
        public int ReleaseAt;
        public SemaphoreSlim Release;

        public readonly void Invoke(int index)
        {
            Interlocked.Increment(ref Counts[index]);
            if (index == ReleaseAt) Release.Release();
        }
    }

    [Fact]
    public unsafe void EveryIndexRunsExactlyOnceWhileTheWorkerNeverShowsUp()
    {
        // Not disposed: a worker that read the hook just before it is cleared still calls it after this test ends,
        // and waiting on a disposed event throws on that worker thread, which ends the whole test process.
        var held = new ManualResetEventSlim(false);
        KernelParallel.BeforeWorkerJoinsForTests = () => held.Wait();
        try
        {
            const int count = 64, rounds = 20;
            var counts = new int[count];
            fixed (int* p = counts)
            {
                // The worker is stuck before it can join: every loop must finish on the caller alone.
                for (int round = 0; round < rounds; round++)
                {
                    var body = new CountingBody { Counts = p };
                    KernelParallel.For(count, 2, ref body);
                }
            }
            Assert.All(counts, c => Assert.Equal(rounds, c));
        }
        finally
        {
            KernelParallel.BeforeWorkerJoinsForTests = null;
            held.Set();
        }
    }

    [Fact]
    public unsafe void EveryIndexRunsExactlyOnceWhenTheWorkerJoinsLate()
    {
        const int count = 64, rounds = 200;
        var lateJoin = new SemaphoreSlim(0); // not disposed, as in the test above
        // Each wake-up of the worker waits until some thread has run the loop's middle item, so it arrives with
        // about half of the items already taken (or none left, or in a later loop).
        KernelParallel.BeforeWorkerJoinsForTests = () => lateJoin.Wait(millisecondsTimeout: 1000);
        try
        {
            var counts = new int[count];
            fixed (int* p = counts)
            {
                for (int round = 0; round < rounds; round++)
                {
                    var body = new ReleasingBody { Counts = p, ReleaseAt = count / 2, Release = lateJoin };
                    KernelParallel.For(count, 2, ref body);
                }
            }
            Assert.All(counts, c => Assert.Equal(rounds, c));
        }
        finally
        {
            KernelParallel.BeforeWorkerJoinsForTests = null;
        }
    }

    /// <summary>Records who ran each item, in order; item 0 (the caller's first) lets the worker in and waits for its first item.</summary>
    private sealed class OrderRecorder(int count)
    {
        public readonly int[] Runner = new int[count];            // managed thread id per item
        public readonly List<int> CallerOrder = [], WorkerOrder = [];
        public readonly SemaphoreSlim LetWorkerIn = new(0);
        public readonly ManualResetEventSlim WorkerRan = new(false);
        public int CallerThread;

        public void Run(int index)
        {
            int me = Environment.CurrentManagedThreadId;
            Runner[index] = me;
            lock (this) (me == CallerThread ? CallerOrder : WorkerOrder).Add(index);
            if (me != CallerThread) WorkerRan.Set();
            if (index == 0 && me == CallerThread)
            {
                LetWorkerIn.Release();
                WorkerRan.Wait(TimeSpan.FromSeconds(2)); // the worker has its first item by then, unless the loop ran alone
            }
        }
    }

    private readonly struct RecordingBody(OrderRecorder recorder) : IParallelBody
    {
        public void Invoke(int index) => recorder.Run(index);
    }

    [Fact]
    public void EachThreadRunsItsOwnBlockFrontToBackAndTakesTheRestFromTheBack()
    {
        if (KernelParallel.MaxThreads < 2) return; // one core: nothing to split
        const int count = 16;
        OrderRecorder? seen = null;
        var recorder = new OrderRecorder(count);
        // The worker may only join once the caller is inside item 0, so the first item each thread takes is known.
        KernelParallel.BeforeWorkerJoinsForTests = () => Volatile.Read(ref recorder).LetWorkerIn.Wait(millisecondsTimeout: 2000);
        try
        {
            // A loop can run alone (another test's loop holds the workers, or a back-off): try until the worker took part.
            for (int attempt = 0; attempt < 20 && seen is null; attempt++)
            {
                Volatile.Write(ref recorder, new OrderRecorder(count) { CallerThread = Environment.CurrentManagedThreadId });
                var body = new RecordingBody(recorder);
                KernelParallel.For(count, 2, ref body);
                if (recorder.WorkerOrder.Count > 0) seen = recorder;
            }
        }
        finally
        {
            KernelParallel.BeforeWorkerJoinsForTests = null;
            recorder.LetWorkerIn.Release(100);
        }
        Assert.NotNull(seen);
        // The caller owns [0, 8), the worker [8, 16): each starts at the front of its own block.
        Assert.Equal(0, seen.CallerOrder[0]);
        Assert.Equal(count / 2, seen.WorkerOrder[0]);
        // Each runs its own block in order, then whatever it takes of the other's from its back end.
        AssertOwnBlockThenStolenFromTheBack(seen.CallerOrder, 0, count / 2, count / 2, count);
        AssertOwnBlockThenStolenFromTheBack(seen.WorkerOrder, count / 2, count, 0, count / 2);
        Assert.Equal(count, seen.CallerOrder.Count + seen.WorkerOrder.Count);
        Assert.Equal(Enumerable.Range(0, count), seen.CallerOrder.Concat(seen.WorkerOrder).Order());
    }

    private static void AssertOwnBlockThenStolenFromTheBack(List<int> order, int ownLo, int ownHi, int otherLo, int otherHi)
    {
        int own = order.TakeWhile(i => i >= ownLo && i < ownHi).Count();
        Assert.Equal(Enumerable.Range(order[0], own), order.Take(own));                       // consecutive, ascending
        var stolen = order.Skip(own).ToList();
        Assert.All(stolen, i => Assert.InRange(i, otherLo, otherHi - 1));
        Assert.Equal(Enumerable.Range(otherHi - stolen.Count, stolen.Count).Reverse(), stolen); // from the back, descending
    }

    [Fact]
    public unsafe void CountsAccountForEveryItemOfEveryLoop()
    {
        // Other tests run loops at the same time, so only the totals of this test's own loops can be checked: every
        // item counted once, either by the caller, by a worker or alone.
        const int count = 48, rounds = 100;
        var counts = new int[count];
        bool wasCounting = KernelParallel.CountingEnabled;
        KernelParallel.CountingEnabled = true;
        try
        {
            KernelParallelCounts before = KernelParallel.ReadCounts();
            fixed (int* p = counts)
            {
                for (int round = 0; round < rounds; round++)
                {
                    var body = new CountingBody { Counts = p };
                    KernelParallel.For(count, 2, ref body);
                }
            }
            KernelParallelCounts after = KernelParallel.ReadCounts();
            long items = after.ItemsByCaller + after.ItemsByWorkers + after.ItemsAlone
                         - before.ItemsByCaller - before.ItemsByWorkers - before.ItemsAlone;
            Assert.True(items >= (long)count * rounds, $"{items} items counted for {count * rounds} run");
            Assert.All(counts, c => Assert.Equal(rounds, c));
        }
        finally
        {
            KernelParallel.CountingEnabled = wasCounting;
        }
    }
}
