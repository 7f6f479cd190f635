using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CrossAttention.Core.Kernels;

/// <summary>One piece of work of a <see cref="KernelParallel.For{TBody}"/> loop.</summary>
public interface IParallelBody
{
    void Invoke(int index);
}

/// <summary>
/// A fork-join loop for kernels that take tens of microseconds, where Parallel.For's scheduling costs as much as the work.
/// The caller's thread always takes part; up to <c>ProcessorCount − 1</c> dedicated workers join it. Workers spin for a
/// short while after each loop (decode steps come back to back) and then sleep. The loop body is a struct passed by
/// reference, so a call allocates nothing. Loops that arrive while the workers are busy with another caller's loop run
/// on their own thread instead of queueing.
/// </summary>
/// <remarks>
/// <para>
/// Each thread first runs its own contiguous block of the items, front to back, then takes what is left of the other
/// blocks from their back ends: in memory-bound loops (a decode step streaming weights and K/V from DRAM) each core
/// then reads one forward stream, where items handed out in turn (0, 1, 2, … to whoever asks) made both cores jump
/// between neighbouring items and cost about a third of the bandwidth (measured: 45 GB/s against 64 for the same bytes).
/// Robust to a worker that is late or never comes (asleep, or its core taken by another process): items are claimed
/// one at a time, workers join only while items are left, and the caller runs whatever nobody else has taken (a
/// missing worker's block from its back end), so no item waits for a particular thread. Once out of items the caller waits only
/// for items already running elsewhere, and it blocks rather than spins after a short while, so a worker whose core is
/// taken can be moved onto the caller's.
/// </para>
/// <para>
/// Each kind of loop (its body type and the power of two of its work) learns whether it is faster opened to the
/// workers or on the caller alone (<see cref="ParallelJudge"/>): the caller times every loop, keeps the mean time per
/// unit of work of each mode, runs the faster and probes the other now and then on a budget of ~1/128 of the time.
/// With another process busy on one of two cores a loop opened to the worker is fast while the worker has a core, but
/// now and then waits a scheduler slice for a worker preempted inside an item, and the worker takes CPU time the
/// caller would have had; when that makes such loops slower on average than alone, they run alone. On a quiet
/// machine parallel wins and probing alone costs ~1%. A probe finds the worker asleep (it sleeps while loops run
/// alone), so workers stay awake ~1 ms from a probe on and the probe is counted only once they are there: what it
/// measures is then the loop opened to a worker that is waiting for it, as when loops run in parallel back to back.
/// </para>
/// </remarks>
public static unsafe class KernelParallel
{
    // How long a worker keeps spinning for the next loop before it sleeps.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs
    // How long the caller spins for workers still inside the loop before it blocks.
    private static readonly long CallerSpinTicks = Stopwatch.Frequency / 50_000; // 20 µs
    // How long workers keep spinning from the start of a parallel probe (and from the end of one that had to wake
    // them), so that the probe, or its retry at the next loop of its kind, finds them there rather than measuring their
    // wake-up: a worker woken from sleep joins 0.1–0.2 ms late on this VM, longer than a decode step's loops.
    private static readonly long WarmTicks = Stopwatch.Frequency / 1_000; // 1 ms
    private static long s_warmUntil; // workers spin at least until then

    private static readonly int WorkerCount = Math.Max(0, Environment.ProcessorCount - 1);
    private static readonly object StartLock = new();
    private static Worker[]? s_workers;
    private static readonly SemaphoreSlim s_workersLeft = new(0);

    // Workers join the loop only while it is open, so a worker the OS has not scheduled yet never holds the caller up;
    // the caller closes the loop when it has run out of items and waits only for the workers inside.
    private const int Closed = 1 << 30;
    private static readonly LoopState s_loop = new();
    private static readonly Counters s_counters = new();

    /// <summary>How many threads a loop can use at most on this machine.</summary>
    public static int MaxThreads => WorkerCount + 1;

    /// <summary>
    /// Whether loops count who ran their items (read with <see cref="ReadCounts"/>). Off by default: it adds a few
    /// timestamps and atomic adds per loop, for benchmarks and diagnostics.
    /// </summary>
    public static bool CountingEnabled { get; set; }

    /// <summary>The counts since the last <see cref="ResetCounts"/>, while <see cref="CountingEnabled"/>.</summary>
    public static KernelParallelCounts ReadCounts() => s_counters.Read();

    public static void ResetCounts() => s_counters.Reset();

    /// <summary>Benchmarks: open every loop to the workers, unjudged (what loops did before they were judged), to set
    /// the judged loops against in the same process and minute.</summary>
    internal static bool AlwaysParallelForBenchmarks;

    /// <summary>Test hook: runs on a worker after it is woken for a loop and before it tries to join it.</summary>
    internal static Action? BeforeWorkerJoinsForTests;

    /// <summary>Test hook: runs on the caller of a loop opened to the workers once it has run out of items, before it
    /// waits for them (a slow hook is a caller held up by a worker preempted inside an item).</summary>
    internal static Action? AfterCallerShareForTests;

    /// <summary>Runs body.Invoke(i) for every i in [0, count) on up to maxThreads threads, and returns when all are done.</summary>
    /// <param name="work">the loop's size in any unit that is the same for every call with this TBody (FLOPs, bytes);
    /// loops are judged per TBody and per power of two of it. 0: count.</param>
    public static void For<TBody>(int count, int maxThreads, ref TBody body, long work = 0) where TBody : struct, IParallelBody
    {
        int threads = Math.Min(Math.Min(count, maxThreads), MaxThreads);
        if (threads <= 1)
        {
            for (int i = 0; i < count; i++) body.Invoke(i);
            return;
        }
        if (Interlocked.CompareExchange(ref s_loop.Busy, 1, 0) != 0)
        {
            // Another caller's loop has the workers; both cores are likely in use already.
            if (CountingEnabled) Interlocked.Increment(ref s_counters.LoopsBusyElsewhere);
            for (int i = 0; i < count; i++) body.Invoke(i);
            if (CountingEnabled) Interlocked.Add(ref s_counters.ItemsAlone, count);
            return;
        }
        // Held until the loop is recorded, so one caller at a time reads and writes the judges; a loop run alone by
        // choice holds it too, which keeps other callers from waking a worker onto the core this loop left free.
        try
        {
            if (work <= 0) work = count;
            ref ParallelJudge judge = ref LoopKinds<TBody>.Judges[BitOperations.Log2((ulong)work)];
            if (AlwaysParallelForBenchmarks)
            {
                RunParallel(count, threads, &Invoke<TBody>, Unsafe.AsPointer(ref body));
                return;
            }
            LoopChoice choice = judge.Choose();
            bool workersStarted = s_workers is not null;
            bool wokeSleeper = false;
            long start = Stopwatch.GetTimestamp();
            // A probe keeps the workers awake through it and its retry, the next loop of its kind.
            if (choice.Parallel && (choice.Probe || !workersStarted)) Volatile.Write(ref s_warmUntil, start + WarmTicks);
            if (choice.Parallel)
            {
                wokeSleeper = RunParallel(count, threads, &Invoke<TBody>, Unsafe.AsPointer(ref body)); // body lives on this stack until it returns
            }
            else
            {
                for (int i = 0; i < count; i++) body.Invoke(i);
                if (CountingEnabled)
                {
                    Interlocked.Add(ref s_counters.ItemsAlone, count);
                    Interlocked.Increment(ref s_counters.LoopsAloneByChoice);
                }
            }
            long end = Stopwatch.GetTimestamp();
            // The loop that started the workers paid for creating their threads: not a parallel loop's cost.
            if (!workersStarted) wokeSleeper = true;
            if (!judge.Record(choice, end - start, work, wokeSleeper))
            {
                Volatile.Write(ref s_warmUntil, Stopwatch.GetTimestamp() + WarmTicks);
                if (CountingEnabled) Interlocked.Increment(ref s_counters.ColdProbes);
            }
            else if (CountingEnabled && choice.Probe) Interlocked.Increment(ref s_counters.Probes);
        }
        finally
        {
            Volatile.Write(ref s_loop.Busy, 0);
        }
    }

    /// <summary>The judges of one loop body type, one per power of two of the loops' work.</summary>
    private static class LoopKinds<TBody> where TBody : struct, IParallelBody
    {
        public static readonly ParallelJudge[] Judges = Register(typeof(TBody).Name, new ParallelJudge[64]);
    }

    private static readonly List<(string Body, ParallelJudge[] Judges)> s_kinds = [];

    private static ParallelJudge[] Register(string body, ParallelJudge[] judges)
    {
        lock (s_kinds) s_kinds.Add((body, judges));
        return judges;
    }

    /// <summary>
    /// What the loops have learned so far, one entry per kind of loop that ran (body type, power of two of the work):
    /// loops counted in parallel and alone (each capped at the judge's window) and the ratio of their mean times.
    /// For diagnostics; read without the loop's lock, so an entry being updated may be slightly off.
    /// </summary>
    internal static IReadOnlyList<(string Body, int WorkLog2, int ParallelSamples, int AloneSamples, double ParallelOverAlone)> DescribeLoopKinds()
    {
        var kinds = new List<(string, int, int, int, double)>();
        lock (s_kinds)
        {
            foreach (var (body, judges) in s_kinds)
            {
                for (int log2 = 0; log2 < judges.Length; log2++)
                {
                    var (parallel, alone, ratio) = judges[log2].Describe();
                    if (parallel + alone > 0) kinds.Add((body, log2, parallel, alone, ratio));
                }
            }
        }
        return kinds;
    }

    /// <summary>Test hook: a copy of the judge of loops of this body type and work.</summary>
    internal static ParallelJudge JudgeForTests<TBody>(long work) where TBody : struct, IParallelBody =>
        LoopKinds<TBody>.Judges[BitOperations.Log2((ulong)work)];

    /// <summary>Runs a loop opened to the workers; returns whether a worker had to be woken from sleep for it.</summary>
    private static bool RunParallel(int count, int threads, delegate*<void*, int, void> invoke, void* body)
    {
        LoopState loop = s_loop;
        try
        {
            Worker[] workers = s_workers ?? StartWorkers();
            loop.Invoke = invoke;
            loop.Body = body;
            loop.Error = null;
            loop.MaxJoin = threads - 1;
            // Thread s (the caller is 0, workers by order of joining) owns items [count·s / threads, count·(s + 1) / threads).
            for (int slot = 0; slot < threads; slot++)
                Volatile.Write(ref loop.Blocks[slot].Value, Block(count * (long)slot / threads, count * (long)(slot + 1) / threads));
            loop.Slots = threads;
            Volatile.Write(ref loop.Joined.Value, 0);
            loop.Opened = Stopwatch.GetTimestamp();
            Volatile.Write(ref loop.Gate.Value, 0);
            // Wake first: the caller's own share is what gives a sleeping worker time to arrive.
            bool wokeSleeper = false;
            for (int w = 0; w < threads - 1; w++) wokeSleeper |= workers[w].Wake();

            int callerItems = 0;
            try
            {
                callerItems = RunShare(loop, slot: 0);
            }
            catch (Exception e)
            {
                loop.Error = e; // still wait: the workers read the body on the caller's stack
            }

            AfterCallerShareForTests?.Invoke();
            long callerDone = Stopwatch.GetTimestamp();
            if (Interlocked.Add(ref loop.Gate.Value, Closed) != Closed) WaitForWorkers(loop, callerDone);
            if (CountingEnabled) s_counters.Add(callerItems, Stopwatch.GetTimestamp() - callerDone);

            if (loop.Error is { } error)
            {
                loop.Error = null;
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
            return wokeSleeper;
        }
        finally
        {
            loop.Body = null;
        }
    }

    private static void WaitForWorkers(LoopState loop, long since)
    {
        while (Stopwatch.GetTimestamp() - since < CallerSpinTicks)
        {
            if (Volatile.Read(ref loop.Gate.Value) == Closed) return;
            Thread.SpinWait(20);
        }
        // Block, so this core goes idle and a worker waiting for a core can be moved here. The last worker to leave
        // releases the semaphore if it sees the flag; if it left before the flag was set, consume nothing.
        Interlocked.Exchange(ref loop.CallerWaiting, 1);
        if (Volatile.Read(ref loop.Gate.Value) == Closed && Interlocked.Exchange(ref loop.CallerWaiting, 0) == 1) return;
        s_workersLeft.Wait();
    }

    private static void Invoke<TBody>(void* body, int index) where TBody : struct, IParallelBody =>
        Unsafe.AsRef<TBody>(body).Invoke(index);

    /// <summary>
    /// Claims and runs items until none is left: its own block front to back, then the others' from their back ends
    /// (so their owners keep reading forward); returns how many it ran.
    /// </summary>
    private static int RunShare(LoopState loop, int slot)
    {
        var invoke = loop.Invoke;
        void* body = loop.Body;
        int slots = loop.Slots;
        int ran = 0;
        for (int i = TakeFront(ref loop.Blocks[slot].Value); i >= 0; i = TakeFront(ref loop.Blocks[slot].Value))
        {
            invoke(body, i);
            ran++;
        }
        for (int other = 1; other < slots; other++)
        {
            ref long block = ref loop.Blocks[(slot + other) % slots].Value;
            for (int i = TakeBack(ref block); i >= 0; i = TakeBack(ref block))
            {
                invoke(body, i);
                ran++;
            }
        }
        return ran;
    }

    // A block is [lo, hi) in one word, so its owner (taking lo) and a thief (taking hi − 1) can never both get the last item.
    private static long Block(long lo, long hi) => hi << 32 | lo;

    /// <summary>The block's first item, taken; −1 when it is empty.</summary>
    private static int TakeFront(ref long block)
    {
        long seen = Volatile.Read(ref block);
        while (true)
        {
            int lo = (int)seen, hi = (int)(seen >> 32);
            if (lo >= hi) return -1;
            long found = Interlocked.CompareExchange(ref block, Block(lo + 1, hi), seen);
            if (found == seen) return lo;
            seen = found;
        }
    }

    /// <summary>The block's last item, taken; −1 when it is empty.</summary>
    private static int TakeBack(ref long block)
    {
        long seen = Volatile.Read(ref block);
        while (true)
        {
            int lo = (int)seen, hi = (int)(seen >> 32);
            if (lo >= hi) return -1;
            long found = Interlocked.CompareExchange(ref block, Block(lo, hi - 1), seen);
            if (found == seen) return hi - 1;
            seen = found;
        }
    }

    private static bool TryJoin(LoopState loop)
    {
        int gate = Volatile.Read(ref loop.Gate.Value);
        while ((gate & Closed) == 0 && gate < loop.MaxJoin)
        {
            int seen = Interlocked.CompareExchange(ref loop.Gate.Value, gate + 1, gate);
            if (seen == gate) return true;
            gate = seen;
        }
        return false;
    }

    private static void Leave(LoopState loop)
    {
        if (Interlocked.Decrement(ref loop.Gate.Value) == Closed && Interlocked.Exchange(ref loop.CallerWaiting, 0) == 1)
            s_workersLeft.Release();
    }

    private static Worker[] StartWorkers()
    {
        lock (StartLock)
        {
            if (s_workers is null)
            {
                var workers = new Worker[WorkerCount];
                for (int w = 0; w < workers.Length; w++) workers[w] = new Worker(w);
                s_workers = workers;
            }
            return s_workers;
        }
    }

    /// <summary>A value alone on its cache lines (the padding is on both sides), so threads that hammer it do not
    /// also invalidate what the others only read.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Padded
    {
        [FieldOffset(128)] public int Value;
    }

    /// <summary>A long alone on its cache lines, like <see cref="Padded"/>.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct PaddedLong
    {
        [FieldOffset(128)] public long Value;
    }

    /// <summary>The loop being run. Written by its caller before it opens the gate; read by the workers that join.</summary>
    private sealed class LoopState
    {
        public int Busy;
        public int MaxJoin; // maxThreads − 1 of the open loop
        public delegate*<void*, int, void> Invoke;
        public void* Body;
        public Exception? Error;
        public long Opened;
        public int CallerWaiting;
        public int Slots;    // threads the items are split among (blocks in use)
        public readonly PaddedLong[] Blocks = new PaddedLong[MaxThreads]; // each thread's [lo, hi) still to claim
        public Padded Joined; // workers that have joined: the next one owns block Joined + 1
        public Padded Gate;  // Closed flag | workers inside
    }

    private sealed class Worker
    {
        private Padded _generation;
        private int _sleeping;
        private readonly SemaphoreSlim _wake = new(0);

        public Worker(int index)
        {
            var thread = new Thread(Run) { IsBackground = true, Name = $"KernelParallel {index}" };
            thread.Start();
        }

        /// <summary>Signals a new loop; returns whether the worker was asleep.</summary>
        public bool Wake()
        {
            Interlocked.Increment(ref _generation.Value);
            if (Interlocked.Exchange(ref _sleeping, 0) == 0) return false;
            _wake.Release();
            return true;
        }

        private void Run()
        {
            LoopState loop = s_loop;
            int seen = 0;
            while (true)
            {
                long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
                bool slept = false;
                while (Volatile.Read(ref _generation.Value) == seen)
                {
                    long now = Stopwatch.GetTimestamp();
                    // The warm deadline is read each time round: a caller extends it after this worker left its loop.
                    if (now < spinUntil || now < Volatile.Read(ref s_warmUntil))
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    slept = true;
                    Interlocked.Exchange(ref _sleeping, 1);
                    // A wake between the write above and this check either finds _sleeping = 1 (and releases)
                    // or already cleared it; consume that release so the next sleep waits for real.
                    if (Volatile.Read(ref _generation.Value) != seen)
                    {
                        if (Interlocked.Exchange(ref _sleeping, 0) == 0) _wake.Wait();
                        break;
                    }
                    _wake.Wait();
                }
                seen = Volatile.Read(ref _generation.Value);
                BeforeWorkerJoinsForTests?.Invoke();
                if (!TryJoin(loop)) continue;
                // Past the last block (a worker joining after another left) it owns nothing and only takes what is left.
                int slot = Math.Min(Interlocked.Increment(ref loop.Joined.Value), loop.Slots - 1);
                long joined = CountingEnabled ? Stopwatch.GetTimestamp() : 0;
                int ran = 0;
                try
                {
                    ran = RunShare(loop, slot);
                }
                catch (Exception e)
                {
                    loop.Error = e;
                }
                if (CountingEnabled) s_counters.AddWorker(ran, slept, joined - loop.Opened);
                Leave(loop);
            }
        }
    }

    private sealed class Counters
    {
        public long Loops, ItemsByCaller, ItemsByWorkers, ItemsAlone, LoopsBusyElsewhere, LoopsAloneByChoice, Probes, ColdProbes;
        public long WorkerJoins, WorkerJoinsAfterSleep, JoinDelayTicks, CallerWaitTicks;

        public void Add(int callerItems, long waitTicks)
        {
            Interlocked.Increment(ref Loops);
            Interlocked.Add(ref ItemsByCaller, callerItems);
            Interlocked.Add(ref CallerWaitTicks, waitTicks);
        }

        public void AddWorker(int items, bool slept, long joinDelayTicks)
        {
            Interlocked.Add(ref ItemsByWorkers, items);
            Interlocked.Increment(ref WorkerJoins);
            if (slept) Interlocked.Increment(ref WorkerJoinsAfterSleep);
            Interlocked.Add(ref JoinDelayTicks, joinDelayTicks);
        }

        public KernelParallelCounts Read()
        {
            static double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
            return new KernelParallelCounts(Volatile.Read(ref Loops), Volatile.Read(ref ItemsByCaller),
                Volatile.Read(ref ItemsByWorkers), Volatile.Read(ref ItemsAlone), Volatile.Read(ref LoopsBusyElsewhere),
                Volatile.Read(ref LoopsAloneByChoice), Volatile.Read(ref Probes), Volatile.Read(ref ColdProbes), Volatile.Read(ref WorkerJoins),
                Volatile.Read(ref WorkerJoinsAfterSleep), Us(Volatile.Read(ref JoinDelayTicks)),
                Us(Volatile.Read(ref CallerWaitTicks)));
        }

        public void Reset()
        {
            Loops = ItemsByCaller = ItemsByWorkers = ItemsAlone = LoopsBusyElsewhere = LoopsAloneByChoice = Probes = ColdProbes = 0;
            WorkerJoins = WorkerJoinsAfterSleep = JoinDelayTicks = CallerWaitTicks = 0;
            Interlocked.MemoryBarrier();
        }
    }
}

/// <summary>Who ran the items of <see cref="KernelParallel"/> loops while counting was on.</summary>
/// <param name="ParallelLoops">loops opened to the workers</param>
/// <param name="ItemsByCaller">items of those loops the calling thread ran</param>
/// <param name="ItemsByWorkers">items of those loops the workers ran</param>
/// <param name="ItemsAlone">items of loops run on the caller alone although more threads were allowed</param>
/// <param name="LoopsBusyElsewhere">loops run alone because the workers were in another caller's loop</param>
/// <param name="LoopsAloneByChoice">loops run alone because loops of their kind were measured faster alone (or to
/// measure that)</param>
/// <param name="Probes">loops run in the mode measured slower so far, to see whether it still is</param>
/// <param name="ColdProbes">parallel probes that had to wake a worker: not counted, tried again at the next loop of
/// their kind with the workers kept awake</param>
/// <param name="WorkerJoins">times a worker joined a loop</param>
/// <param name="WorkerJoinsAfterSleep">of those, times the worker had gone to sleep before the loop</param>
/// <param name="JoinDelayUs">summed time from a loop's opening to a worker joining it, µs</param>
/// <param name="CallerWaitUs">summed time callers waited for workers after running out of items, µs</param>
public readonly record struct KernelParallelCounts(long ParallelLoops, long ItemsByCaller, long ItemsByWorkers,
    long ItemsAlone, long LoopsBusyElsewhere, long LoopsAloneByChoice, long Probes, long ColdProbes, long WorkerJoins,
    long WorkerJoinsAfterSleep, double JoinDelayUs, double CallerWaitUs);
