namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// One slot per core: a request computes only while it holds a slot, so concurrent requests never oversubscribe the
/// CPU. A request that finds the other cores idle and nobody waiting takes them too and its kernels split across
/// them; under load every request computes on one core, which serves more requests per second than splitting each.
/// </summary>
public sealed class ComputeGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _capacity;
    private int _waiting;

    public ComputeGate() : this(Environment.ProcessorCount) { }

    public ComputeGate(int cores)
    {
        _capacity = Math.Max(1, cores);
        _slots = new SemaphoreSlim(_capacity, _capacity);
    }

    /// <summary>Waits for one core, then takes whichever other cores are idle, up to <paramref name="maxThreads"/>.</summary>
    public async ValueTask<Lease> EnterAsync(int maxThreads, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _slots.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
        int threads = 1;
        while (threads < Math.Min(maxThreads, _capacity) && Volatile.Read(ref _waiting) == 0 && _slots.Wait(0)) threads++;
        return new Lease(this, threads);
    }

    public int Capacity => _capacity;

    public void Dispose() => _slots.Dispose();

    public readonly struct Lease(ComputeGate gate, int threads) : IDisposable
    {
        /// <summary>Cores this request may compute on.</summary>
        public int Threads { get; } = threads;

        public void Dispose() => gate._slots.Release(Threads);
    }
}
