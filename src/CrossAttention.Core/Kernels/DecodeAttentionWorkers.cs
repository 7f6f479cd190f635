using System.Diagnostics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// A tiny fork-join for the decode kernel. The caller and up to maxThreads − 1 persistent workers claim heads one at
/// a time from a shared counter. Workers spin briefly after each job (decode steps come back-to-back) before
/// blocking, so a warm hand-off costs a cache-line exchange rather than the several microseconds of Parallel.For.
/// An offer to a worker that has not picked it up by the time the caller has run out of heads is withdrawn, so a
/// descheduled worker (the machine is shared) never holds the caller up; a worker that did start is waited for,
/// and it only ever runs the head it claimed.
/// Private to the decode kernel until a shared KernelParallel exists. One job at a time: a caller that finds the
/// workers busy runs every head itself.
/// </summary>
internal static class DecodeAttentionWorkers
{
    // Long enough to bridge the projections between two layers' attention calls in a decode step, short enough not to
    // keep a core from other work (the polling yields, too).
    private static readonly long SpinTicks = Stopwatch.Frequency / 20000; // 50 µs
    private static readonly object Gate = new();
    private static Worker[] s_workers = [];
    private static DecodeAttentionJob s_job;
    private static int s_nextHead;
    private static Exception? s_failure;

    public static void Run(in DecodeAttentionJob job, int threads)
    {
        if (threads <= 1 || !Monitor.TryEnter(Gate))
        {
            DecodeAttention.RunHeads(job, 0, job.Heads);
            return;
        }
        try
        {
            EnsureWorkers(threads - 1);
            s_job = job;
            s_failure = null;
            Volatile.Write(ref s_nextHead, 0);
            for (int w = 0; w < threads - 1; w++) s_workers[w].Offer();
            try
            {
                ClaimHeads();
            }
            finally
            {
                for (int w = 0; w < threads - 1; w++) s_workers[w].WithdrawOrAwait();
            }
            if (s_failure is { } failure) throw new AggregateException(failure);
        }
        finally
        {
            s_job = default;
            Monitor.Exit(Gate);
        }
    }

    private static void ClaimHeads()
    {
        int heads = s_job.Heads;
        int head;
        while ((head = Interlocked.Increment(ref s_nextHead) - 1) < heads)
            DecodeAttention.RunHeads(s_job, head, head + 1);
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
        private const int Idle = 0, Offered = 1, Running = 2;

        private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);
        private int _ticket;
        private int _generation;
        private int _seen;
        private int _sleeping;

        public Worker()
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = "decode-attention-worker" };
            thread.Start();
        }

        public void Offer()
        {
            Volatile.Write(ref _ticket, Offered);
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleeping) != 0) _wake.Set();
        }

        public void WithdrawOrAwait()
        {
            if (Interlocked.CompareExchange(ref _ticket, Idle, Offered) == Offered) return;
            var spin = new SpinWait();
            while (Volatile.Read(ref _ticket) != Idle) spin.SpinOnce(sleep1Threshold: -1);
        }

        private void Loop()
        {
            while (true)
            {
                WaitForOffer();
                if (Interlocked.CompareExchange(ref _ticket, Running, Offered) != Offered) continue;
                try
                {
                    ClaimHeads();
                }
                catch (Exception exception)
                {
                    s_failure = exception;
                }
                Volatile.Write(ref _ticket, Idle);
            }
        }

        private void WaitForOffer()
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
