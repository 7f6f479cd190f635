using System.Diagnostics;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Scheduling;

public sealed partial class ComputeGate
{
    /// <summary>
    /// Cores held by one caller until it disposes the lease. A class, and released once: disposing it again (or from
    /// a second reference) gives nothing back twice.
    /// </summary>
    public sealed class Lease : IDisposable
    {
        private ComputeGate? _gate;

        internal Lease(ComputeGate gate, int threads)
        {
            _gate = gate;
            Threads = threads;
            Options = new ComputeOptions(gate.Variant, threads);
        }

        /// <summary>Cores this caller may compute on.</summary>
        public int Threads { get; }

        /// <summary>How to compute on this lease: the gate's kernel variant on <see cref="Threads"/> threads.</summary>
        public ComputeOptions Options { get; }

        public void Dispose() => Interlocked.Exchange(ref _gate, null)?.Release(Threads);
    }

    /// <summary>A place in the queue; guarded by the gate's lock.</summary>
    public abstract class Waiter
    {
        internal Waiter? Next, Previous;
        internal bool Queued;
        internal long EnqueuedAt; // Stopwatch timestamp, for the queue-wait metric
        internal readonly ActivityContext TraceContext = Activity.Current?.Context ?? default; // the request's span

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
