using System.Diagnostics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// A tiny fork-join for the decode kernel: part 0 runs on the caller, parts 1.. on persistent worker threads that
/// spin briefly after each job (decode steps come back-to-back) before blocking. Parallel.For costs several
/// microseconds per call, a real share of a ~30 µs decode step; this costs a cache-line handshake when warm.
/// Private to the decode kernel until a shared KernelParallel exists. One job at a time: a caller that finds the
/// workers busy runs its parts itself.
/// </summary>
internal static unsafe class DecodeAttentionWorkers
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs of polling before blocking
    private static readonly object Gate = new();
    private static Worker[] s_workers = [];
    private static DecodeAttentionJob s_job;
    private static int s_parts;
    private static int s_pending;
    private static Exception? s_failure;

    public static void Run(in DecodeAttentionJob job, int parts)
    {
        if (parts <= 1 || !Monitor.TryEnter(Gate))
        {
            for (int part = 0; part < parts; part++) DecodeAttention.RunPart(job, part, parts);
            return;
        }
        try
        {
            EnsureWorkers(parts - 1);
            s_job = job;
            s_parts = parts;
            s_failure = null;
            Volatile.Write(ref s_pending, parts - 1);
            for (int w = 0; w < parts - 1; w++) s_workers[w].Start(w + 1);
            DecodeAttention.RunPart(job, 0, parts);
            var spin = new SpinWait();
            while (Volatile.Read(ref s_pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            if (s_failure is { } failure) throw new AggregateException(failure);
        }
        finally
        {
            s_job = default;
            Monitor.Exit(Gate);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int w = s_workers.Length; w < count; w++) workers[w] = new Worker();
        s_workers = workers;
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);
        private int _generation;
        private int _seen;
        private int _part;
        private int _sleeping;

        public Worker()
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = "decode-attention-worker" };
            thread.Start();
        }

        public void Start(int part)
        {
            _part = part;
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleeping) != 0) _wake.Set();
        }

        private void Loop()
        {
            while (true)
            {
                WaitForJob();
                try
                {
                    DecodeAttention.RunPart(s_job, _part, s_parts);
                }
                catch (Exception exception)
                {
                    s_failure = exception;
                }
                Interlocked.Decrement(ref s_pending);
            }
        }

        private void WaitForJob()
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            var spin = new SpinWait();
            while (Volatile.Read(ref _generation) == _seen)
            {
                if (Stopwatch.GetTimestamp() < deadline)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                _wake.Reset();
                Interlocked.Exchange(ref _sleeping, 1);
                if (Volatile.Read(ref _generation) == _seen) _wake.Wait();
                Interlocked.Exchange(ref _sleeping, 0);
                deadline = Stopwatch.GetTimestamp() + SpinTicks;
            }
            _seen = Volatile.Read(ref _generation);
        }
    }
}
