using System.Diagnostics;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// The choice between loops as their kinds' judges choose and every loop opened to the workers, fed with a simulated
/// stream of loops and the serial work between them (no clock): a step's loops take 100 µs alone, and the regimes
/// differ in how long a loop and the work after it take.
/// </summary>
public class ParallelRegimeTests
{
    private static readonly long Alone = Stopwatch.Frequency / 10_000; // 100 µs

    /// <summary>Runs loops through a regime judge as KernelParallel does, on a simulated clock.</summary>
    private sealed class Simulation(int seed)
    {
        private readonly Random _random = new(seed);
        public ParallelRegime Regime;
        public long Now = Stopwatch.Frequency; // timestamps start well after 0
        public long TicksAllParallel, TicksJudged, LoopsAllParallel, Loops;

        /// <summary>Runs for the given simulated time; the functions give a loop's ticks and the gap after it in the
        /// regime the judge chose (true: every loop parallel), before ±5% jitter.</summary>
        public void Run(double seconds, Func<bool, double> loopTicks, Func<bool, double> gapTicks)
        {
            long until = Now + (long)(seconds * Stopwatch.Frequency);
            while (Now < until)
            {
                bool allParallel = Regime.AllParallel;
                long start = Now;
                long end = start + Jitter(loopTicks(allParallel));
                Regime.Record(start, end, Alone);
                Now = end + Jitter(gapTicks(allParallel));
                if (allParallel)
                {
                    TicksAllParallel += Now - start;
                    LoopsAllParallel++;
                }
                else TicksJudged += Now - start;
                Loops++;
            }
        }

        private long Jitter(double ticks) => (long)(ticks * (0.95 + 0.1 * _random.NextDouble()));

        public double ShareAllParallel => (double)TicksAllParallel / (TicksAllParallel + TicksJudged);

        public void Reset() => TicksAllParallel = TicksJudged = LoopsAllParallel = Loops = 0;
    }

    private static double Gap(bool _) => Alone / 5.0;

    [Fact]
    public void StartsWithLoopsAsJudged()
    {
        var regime = new ParallelRegime();
        Assert.False(regime.AllParallel);
    }

    [Fact]
    public void EveryLoopParallelTakesOverWhenItIsFasterOverStretchesOfTime()
    {
        // Beside a busy process in the same autogroup: loops kept parallel get 4/3 of a core.
        var sim = new Simulation(1);
        sim.Run(1.0, allParallel => allParallel ? 0.8 * Alone : Alone, Gap);
        Assert.True(sim.Regime.AllParallel, $"after 1 s: {sim.Regime.Describe()}");

        // From then on it keeps running, probing loops-as-judged less and less often.
        sim.Reset();
        sim.Run(5.0, allParallel => allParallel ? 0.8 * Alone : Alone, Gap);
        Assert.True(sim.ShareAllParallel > 0.95, $"every loop parallel {sim.ShareAllParallel:P1} of the time");
        Assert.Equal(ParallelRegime.MaxProbeGap, sim.Regime.Describe().ProbeGap);
    }

    [Fact]
    public void LoopsAsJudgedStayWhenEveryLoopParallelIsSlowerAndProbingItCostsLittle()
    {
        // Beside a busy process in its own autogroup: the worker's core is rarely free.
        var sim = new Simulation(2);
        Func<bool, double> loop = allParallel => allParallel ? 1.08 * Alone : Alone;
        sim.Run(2.0, loop, Gap);
        Assert.False(sim.Regime.AllParallel);
        Assert.Equal(ParallelRegime.MaxProbeGap, sim.Regime.Describe().ProbeGap);

        // A probe of two epochs and its settling every 64 epochs of 20 ms: ~3.5% of the time in the slower regime,
        // so ~0.3% lost.
        sim.Reset();
        sim.Run(10.0, loop, Gap);
        Assert.False(sim.Regime.AllParallel);
        Assert.InRange(sim.ShareAllParallel, 0.001, 0.05);
    }

    [Fact]
    public void RegimesThatAreCloseAreProbedMoreOften()
    {
        // Every loop parallel 2% slower: within noise of a neighbour coming or going, so it is probed every 16 epochs.
        var sim = new Simulation(7);
        sim.Run(5.0, allParallel => allParallel ? 1.02 * Alone : Alone, Gap);
        Assert.False(sim.Regime.AllParallel);
        Assert.Equal(ParallelRegime.CloseProbeGap, sim.Regime.Describe().ProbeGap);
    }

    [Fact]
    public void AProbeWhoseWorkerStallsEndsAfterAFewLoops()
    {
        // A worker preempted inside an item holds every parallel loop up for 2 ms.
        var sim = new Simulation(3);
        long stall = Stopwatch.Frequency / 500;
        sim.Run(10.0, allParallel => allParallel ? Alone + stall : Alone, Gap);
        Assert.False(sim.Regime.AllParallel);
        // ~15 probes in 10 s (gaps of 4, 8, … 64 epochs), each ended by its first or second loop.
        Assert.InRange(sim.LoopsAllParallel, 1, 40);
        Assert.True(sim.ShareAllParallel < 0.01, $"every loop parallel {sim.ShareAllParallel:P2} of the time");
    }

    [Fact]
    public void TheWorkBetweenLoopsCounts()
    {
        // Loops opened to the worker are faster, but the worker spinning between them slows the serial work so much
        // that steps are slower: per-loop times alone would pick every loop parallel.
        var sim = new Simulation(4);
        sim.Run(5.0, allParallel => allParallel ? 0.8 * Alone : Alone, allParallel => allParallel ? 0.6 * Alone : 0.2 * Alone);
        Assert.False(sim.Regime.AllParallel);
        Assert.True(sim.ShareAllParallel < 0.08, $"every loop parallel {sim.ShareAllParallel:P1} of the time");
    }

    [Fact]
    public void LoopsFarApartAreNotJudgedAsARegime()
    {
        // Sparse traffic: every gap is idle time, so nothing is counted and nothing is probed.
        var sim = new Simulation(5);
        long idle = 3 * ParallelRegime.IdleTicks;
        sim.Run(5.0, allParallel => allParallel ? 0.5 * Alone : Alone, _ => idle);
        Assert.Equal(0, sim.LoopsAllParallel);
        Assert.Equal(0, sim.Regime.Describe().Score);
    }

    [Fact]
    public void AfterTheNeighbourLeavesLoopsAsJudgedComeBack()
    {
        var sim = new Simulation(6);
        sim.Run(2.0, allParallel => allParallel ? 0.8 * Alone : Alone, Gap);
        Assert.True(sim.Regime.AllParallel);

        // Now loops as judged (on a quiet machine: the cheaper of both modes per kind) are 20% faster; the next probe
        // comes within 64 epochs (~1.3 s of counted time).
        sim.Run(2.0, allParallel => allParallel ? Alone : 0.8 * Alone, Gap);
        Assert.False(sim.Regime.AllParallel);
    }

    [Fact]
    public void OtherCallersSendLoopsBackToTheirJudges()
    {
        var sim = new Simulation(8);
        sim.Run(2.0, allParallel => allParallel ? 0.8 * Alone : Alone, Gap);
        Assert.True(sim.Regime.AllParallel);

        // A server's requests: loops of other threads ran alone while this caller held the workers.
        Assert.True(sim.Regime.Record(sim.Now, sim.Now + Alone, Alone, otherCallers: true));
        Assert.False(sim.Regime.AllParallel);
        long t = sim.Now + Alone;
        for (int i = 0; i < 100_000; i++, t += Alone) sim.Regime.Record(t, t + Alone / 2, Alone, otherCallers: i % 50 == 0);
        Assert.False(sim.Regime.AllParallel);
    }

    [Fact]
    public void LoopsOfUnknownAloneTimeAreNotCounted()
    {
        var regime = new ParallelRegime();
        long t = Stopwatch.Frequency;
        for (int i = 0; i < 10_000; i++, t += Alone) Assert.False(regime.Record(t, t + Alone / 2, aloneTicks: 0));
        Assert.Equal(0, regime.Describe().Score);
    }
}
