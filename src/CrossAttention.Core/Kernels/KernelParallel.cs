using System.Diagnostics;
using System.Runtime.CompilerServices;

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
public static unsafe class KernelParallel
{
    // How long a worker keeps spinning for the next loop before it sleeps.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private static readonly int WorkerCount = Math.Max(0, Environment.ProcessorCount - 1);
    private static readonly object StartLock = new();
    private static Worker[]? s_workers;

    // The loop being run: claimed indices, its body and how many workers still run it.
    private static int s_busy;
    private static delegate*<void*, int, void> s_invoke;
    private static void* s_body;
    private static int s_count;
    private static int s_next;
    // Workers join the loop only while it is open, so a worker the OS has not scheduled yet never holds the caller up;
    // the caller closes the loop when it has run out of items and waits only for the workers inside.
    private const int Closed = 1 << 30;
    private static int s_gate = Closed; // Closed flag | workers inside
    private static int s_maxJoin;       // maxThreads − 1 of the open loop
    private static Exception? s_error;

    /// <summary>How many threads a loop can use at most on this machine.</summary>
    public static int MaxThreads => WorkerCount + 1;

    /// <summary>Runs body.Invoke(i) for every i in [0, count) on up to maxThreads threads, and returns when all are done.</summary>
    public static void For<TBody>(int count, int maxThreads, ref TBody body) where TBody : struct, IParallelBody
    {
        int threads = Math.Min(Math.Min(count, maxThreads), MaxThreads);
        if (threads <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body.Invoke(i);
            return;
        }
        try
        {
            Worker[] workers = s_workers ?? StartWorkers();
            s_invoke = &Invoke<TBody>;
            s_body = Unsafe.AsPointer(ref body); // body lives on the caller's stack, which waits below
            s_count = count;
            s_error = null;
            Volatile.Write(ref s_next, 0);
            s_maxJoin = threads - 1;
            Volatile.Write(ref s_gate, 0);
            for (int w = 0; w < threads - 1; w++) workers[w].Wake();

            try
            {
                RunShare();
            }
            catch (Exception e)
            {
                s_error = e; // still wait: the workers read the body on this stack
            }

            Interlocked.Add(ref s_gate, Closed);
            SpinWait spin = default;
            while (Volatile.Read(ref s_gate) != Closed) spin.SpinOnce(sleep1Threshold: -1);
            if (s_error is { } error)
            {
                s_error = null;
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
        }
        finally
        {
            s_body = null;
            Volatile.Write(ref s_busy, 0);
        }
    }

    private static void Invoke<TBody>(void* body, int index) where TBody : struct, IParallelBody =>
        Unsafe.AsRef<TBody>(body).Invoke(index);

    private static void RunShare()
    {
        int count = s_count;
        var invoke = s_invoke;
        void* body = s_body;
        for (int i = Interlocked.Increment(ref s_next) - 1; i < count; i = Interlocked.Increment(ref s_next) - 1)
            invoke(body, i);
    }

    private static bool TryJoin()
    {
        int gate = Volatile.Read(ref s_gate);
        while ((gate & Closed) == 0 && gate < s_maxJoin)
        {
            int seen = Interlocked.CompareExchange(ref s_gate, gate + 1, gate);
            if (seen == gate) return true;
            gate = seen;
        }
        return false;
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

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);
        private int _generation;
        private int _sleeping;

        public Worker(int index)
        {
            var thread = new Thread(Run) { IsBackground = true, Name = $"KernelParallel {index}" };
            thread.Start();
        }

        public void Wake()
        {
            Interlocked.Increment(ref _generation);
            if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        }

        private void Run()
        {
            int seen = 0;
            while (true)
            {
                long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _generation) == seen)
                {
                    if (Stopwatch.GetTimestamp() < spinUntil)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    Volatile.Write(ref _sleeping, 1);
                    // A wake between the write above and this check either finds _sleeping = 1 (and releases)
                    // or already cleared it; consume that release so the next sleep waits for real.
                    if (Volatile.Read(ref _generation) != seen)
                    {
                        if (Interlocked.Exchange(ref _sleeping, 0) == 0) _wake.Wait();
                        break;
                    }
                    _wake.Wait();
                }
                seen = Volatile.Read(ref _generation);
                if (!TryJoin()) continue;
                try
                {
                    RunShare();
                }
                catch (Exception e)
                {
                    s_error = e;
                }
                Interlocked.Decrement(ref s_gate);
            }
        }
    }
}
