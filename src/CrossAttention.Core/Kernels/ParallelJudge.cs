namespace CrossAttention.Core.Kernels;

/// <summary>How <see cref="KernelParallel"/> runs one loop.</summary>
/// <param name="Parallel">opened to the workers (else on the caller alone)</param>
/// <param name="Probe">the mode measured slower so far, run to see whether that still holds</param>
internal readonly record struct LoopChoice(bool Parallel, bool Probe);

/// <summary>
/// Whether one kind of loop (one call site, one size class) runs faster opened to the workers or on the caller alone,
/// learned from its own loops: a two-armed bandit on the caller's wall time per unit of work.
/// </summary>
/// <remarks>
/// <para>
/// The mode with the lower mean time runs (parallel only if it is faster by <see cref="ParallelMargin"/>: the worker's
/// core is not free when other processes want it); the other is run now and then (a probe), so that a competing
/// process arriving or leaving is noticed. Probes are paid from a budget: every loop in the better mode pays off
/// <see cref="Budget"/> of its time against a debt, a probe adds what it took beyond the better mode's mean, and the
/// next probe waits until the debt is paid (and at least <see cref="MinProbeGap"/> loops; the first
/// <see cref="MinSamples"/> of each mode neither wait for the debt nor add to it). So probes cost about 1/128
/// of the time whichever mode wins; a probe that was faster costs nothing, so after a change for the better probes
/// come every few loops and the means turn over quickly. The debt is capped at <see cref="MaxProbeGap"/> loops'
/// worth: a probe on a crowded machine can cost a scheduler slice (a worker preempted while it holds an item keeps the
/// caller waiting), tens of times a short loop, and a quiet machine must still be found again within a bounded
/// number of loops.
/// </para>
/// <para>
/// Means, not medians, over the last ~<see cref="Window"/> loops of each mode (the plain mean of the first ones): on
/// a crowded machine most parallel loops are fast and a few wait milliseconds for a preempted worker, and the mean is
/// what a stream of loops pays. A verdict on one loop forgets the slow loop at the next fast one, and so keeps opening
/// loops to a worker that costs more than it saves. One loop counts for at most
/// <see cref="ClipFactor"/> times the better mean, so that a caller descheduled for a long while in one loop (which
/// can happen in either mode) does not decide alone for the next hundreds.
/// </para>
/// <para>Not thread-safe: KernelParallel holds its loop while it chooses, runs and records.</para>
/// </remarks>
internal struct ParallelJudge
{
    /// <summary>Loops a mean spans (an exponential moving average of weight 1/Window once it has that many).</summary>
    internal const int Window = 128;
    /// <summary>The share of the better mode's time that probes of the other may cost.</summary>
    internal const double Budget = 1.0 / 128;
    internal const int MinProbeGap = 4;
    internal const int MaxProbeGap = 4096;
    /// <summary>Parallel runs only when its mean is below this share of the alone mean.</summary>
    internal const double ParallelMargin = 15.0 / 16;
    internal const double ClipFactor = 64;
    /// <summary>Loops each mode is measured in before the budget alone decides when to probe it: loops of a kind that
    /// takes milliseconds are few, and must not be settled on one unlucky loop.</summary>
    internal const int MinSamples = 8;

    private ModeTimes _parallel, _alone;      // ticks per unit of work
    private double _debt;                     // ticks probes cost beyond the better mode, not yet paid off
    private int _sinceProbe;                  // loops since the last probe
    private bool _retrying;                   // the last loop was a parallel probe not counted: count the next
    private double _retryExtra;               // what that loop cost beyond the better mode

    /// <summary>Whether loops opened to the workers were faster so far (true until both modes are measured).</summary>
    public readonly bool ParallelIsBetter =>
        _parallel.Samples == 0 || _alone.Samples == 0 || _parallel.Mean <= _alone.Mean * ParallelMargin;

    /// <summary>Loops counted so far in each mode (each at most <see cref="Window"/>), and the ratio of the modes'
    /// mean times (parallel ÷ alone; 0 until both are measured).</summary>
    public readonly (int ParallelSamples, int AloneSamples, double ParallelOverAlone) Describe() =>
        (_parallel.Samples, _alone.Samples, _parallel.Samples > 0 && _alone.Samples > 0 ? _parallel.Mean / _alone.Mean : 0);

    public readonly LoopChoice Choose()
    {
        // Measure both before judging: parallel first, the usual winner, then alone.
        if (_parallel.Samples == 0) return new LoopChoice(Parallel: true, Probe: false);
        if (_alone.Samples == 0) return new LoopChoice(Parallel: false, Probe: false);
        bool parallelBetter = ParallelIsBetter;
        int otherSamples = parallelBetter ? _alone.Samples : _parallel.Samples;
        bool probe = _sinceProbe >= MinProbeGap && (_debt <= 0 || otherSamples < MinSamples);
        return new LoopChoice(Parallel: parallelBetter != probe, Probe: probe);
    }

    /// <summary>
    /// Records a loop run as chosen: it took ticks on the caller's clock for work units (any positive unit that is the
    /// same for every loop of this kind). Returns false when it did not count the loop: the first try of a parallel
    /// probe (or of the first parallel loop) that had to wake a worker, which measured the wake-up rather than the
    /// mode; the next loop tries again and counts whatever it finds.
    /// </summary>
    public bool Record(LoopChoice choice, long ticks, double work, bool wokeSleeper = false)
    {
        if (!(work > 0) || ticks < 0) return true;
        double perWork = ticks / work;
        // The better mode's mean before this sample: what the loop would have cost had it not been a probe.
        double betterMean = choice.Parallel != choice.Probe ? _parallel.Mean : _alone.Mean;
        if (_parallel.Samples > 0 && _alone.Samples > 0) perWork = Math.Min(perWork, ClipFactor * betterMean);

        if (choice.Parallel && wokeSleeper && (choice.Probe || _parallel.Samples == 0) && !_retrying)
        {
            // Not counted in the mean, but what it cost beyond the better mode is paid with the retry's.
            _retrying = true;
            if (choice.Probe) _retryExtra = Math.Max(0, (perWork - betterMean) * work);
            return false;
        }
        _retrying = false;

        if (choice.Parallel) _parallel.Add(perWork);
        else _alone.Add(perWork);

        if (choice.Probe)
        {
            _sinceProbe = 0;
            double extra = Math.Max(0, (perWork - betterMean) * work) + _retryExtra;
            _retryExtra = 0;
            // The first MinSamples of a mode are a one-time cost of every kind of loop, not paid from the budget.
            bool measuring = (choice.Parallel ? _parallel.Samples : _alone.Samples) <= MinSamples;
            if (!measuring) _debt = Math.Min(_debt + extra, MaxProbeGap * Budget * betterMean * work);
        }
        else
        {
            _sinceProbe++;
            _debt = Math.Max(0, _debt - Budget * perWork * work);
        }
        return true;
    }

    /// <summary>The mean of one mode's times over its last ~Window loops.</summary>
    private struct ModeTimes
    {
        public double Mean;
        public int Samples;

        public void Add(double value)
        {
            if (Samples < Window) Samples++;
            Mean += (value - Mean) / Samples;
        }
    }
}
