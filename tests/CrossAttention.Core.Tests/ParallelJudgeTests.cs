using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// The choice between opening loops to the workers and running them alone, fed with simulated loop times (no clock):
/// a quiet machine, where a loop on two threads takes half as long, and one where another process takes a core, where
/// most parallel loops are still fast but one in ten waits a scheduler slice for a worker preempted inside an item.
/// </summary>
public class ParallelJudgeTests
{
    private const double AloneTicks = 100, ParallelTicks = 50, StallTicks = 3000;

    /// <summary>Runs loops through a judge, as KernelParallel does, and tallies what it chose.</summary>
    private sealed class Simulation(int seed)
    {
        private readonly Random _random = new(seed);
        public ParallelJudge Judge;
        public int ParallelLoops, Probes;
        public double Ticks;

        /// <summary>A quiet machine: ±10% around each mode's time.</summary>
        public long Quiet(bool parallel) => Jitter(parallel ? ParallelTicks : AloneTicks);

        /// <summary>A competing process: parallel loops a little faster than alone, but one in ten stalls.</summary>
        public long Crowded(bool parallel) =>
            parallel ? (_random.Next(10) == 0 ? Jitter(StallTicks) : Jitter(0.9 * AloneTicks)) : Jitter(AloneTicks);

        private long Jitter(double ticks) => (long)(ticks * (0.9 + 0.2 * _random.NextDouble()));

        public void Run(int loops, Func<bool, long> ticksFor, double work = 1)
        {
            for (int i = 0; i < loops; i++) Step(ticksFor, work);
        }

        /// <summary>Runs loops until, after one, the judge has measured both modes and prefers the given one;
        /// returns how many it took.</summary>
        public int RunUntil(bool parallelIsBetter, int maxLoops, Func<bool, long> ticksFor)
        {
            for (int i = 1; i <= maxLoops; i++)
            {
                Step(ticksFor, 1);
                var (parallelSamples, aloneSamples, _) = Judge.Describe();
                if (parallelSamples > 0 && aloneSamples > 0 && Judge.ParallelIsBetter == parallelIsBetter) return i;
            }
            return int.MaxValue;
        }

        private void Step(Func<bool, long> ticksFor, double work)
        {
            LoopChoice choice = Judge.Choose();
            long ticks = (long)(ticksFor(choice.Parallel) * work);
            Assert.True(Judge.Record(choice, ticks, work));
            Ticks += ticks;
            if (choice.Parallel) ParallelLoops++;
            if (choice.Probe) Probes++;
        }

        public void Reset() => ParallelLoops = Probes = (int)(Ticks = 0);
    }

    [Fact]
    public void OnAQuietMachineLoopsRunInParallelAndProbingAloneCostsLittle()
    {
        var sim = new Simulation(seed: 1);
        sim.Run(1000, sim.Quiet);
        sim.Reset();
        const int loops = 20_000;
        sim.Run(loops, sim.Quiet);

        Assert.True(sim.ParallelLoops > 0.98 * loops, $"{sim.ParallelLoops} of {loops} loops in parallel");
        Assert.True(sim.Probes > 0, "alone was never measured again");
        // All in parallel would take loops × ParallelTicks; the probes alone may add ~1/128 of it.
        Assert.True(sim.Ticks < 1.02 * loops * ParallelTicks, $"{sim.Ticks / (loops * ParallelTicks):F4} of all-parallel time");
    }

    [Fact]
    public void AWorkerThatStallsNowAndThenIsNotUsedThoughMostParallelLoopsAreFast()
    {
        // Nine parallel loops in ten beat alone, so a verdict on one loop, or on the median, keeps choosing parallel;
        // the mean (9 × 90 + 3000) / 10 = 381 is what a stream of loops pays.
        var sim = new Simulation(seed: 2);
        sim.Run(1000, sim.Crowded);
        sim.Reset();
        const int loops = 20_000;
        sim.Run(loops, sim.Crowded);

        Assert.False(sim.Judge.ParallelIsBetter);
        Assert.True(sim.ParallelLoops < 0.01 * loops, $"{sim.ParallelLoops} of {loops} loops in parallel");
        Assert.True(sim.Probes >= 4, $"parallel probed {sim.Probes} times in {loops} loops");
        Assert.True(sim.Ticks < 1.03 * loops * AloneTicks, $"{sim.Ticks / (loops * AloneTicks):F4} of all-alone time");
    }

    [Fact]
    public void AWorkerThatSavesLittleIsNotWorthItsCore()
    {
        // 3% faster with two threads than one: not worth a core another process may want.
        var sim = new Simulation(seed: 10);
        sim.Run(5000, parallel => sim.Quiet(false) * (parallel ? 97 : 100) / 100);
        Assert.False(sim.Judge.ParallelIsBetter);
    }

    [Fact]
    public void ACompetitorArrivingSendsLoopsAloneAfterAFewStalls()
    {
        var sim = new Simulation(seed: 3);
        sim.Run(5000, sim.Quiet);
        Assert.True(sim.Judge.ParallelIsBetter);
        int loops = sim.RunUntil(parallelIsBetter: false, maxLoops: 100_000, sim.Crowded);
        Assert.True(loops <= 200, $"still parallel after {loops} crowded loops");
    }

    [Fact]
    public void AfterTheCompetitorLeavesParallelComesBack()
    {
        var sim = new Simulation(seed: 4);
        sim.Run(5000, sim.Quiet);
        sim.Run(50_000, sim.Crowded);
        Assert.False(sim.Judge.ParallelIsBetter);
        // At most one capped debt (4096 loops) before the next probe, then probes every few loops, all faster.
        int loops = sim.RunUntil(parallelIsBetter: true, maxLoops: 100_000, sim.Quiet);
        Assert.True(loops <= 6000, $"alone for {loops} quiet loops");
    }

    [Fact]
    public void ProbesThatAlwaysStallCostABoundedShare()
    {
        // The worker's core is never free: every parallel loop waits out a stall. The debt's cap bounds the gap
        // between probes, so they cost at most ~ClipFactor / MaxProbeGap of the time.
        var sim = new Simulation(seed: 5);
        sim.Run(1000, parallel => parallel ? 50 * (long)AloneTicks : (long)AloneTicks);
        sim.Reset();
        const int loops = 50_000;
        sim.Run(loops, parallel => parallel ? 50 * (long)AloneTicks : (long)AloneTicks);

        // A probe at least every ~4100 loops, so a quiet machine is noticed.
        Assert.True(sim.Probes >= 12, $"{sim.Probes} probes in {loops} loops");
        Assert.True(sim.Ticks < 1.02 * loops * AloneTicks, $"{sim.Ticks / (loops * AloneTicks):F4} of all-alone time");
    }

    /// <summary>Runs loops where parallel takes the given shares of the alone time in turn (then the last one
    /// forever); returns how many loops it took until parallel was preferred.</summary>
    private static int LoopsUntilParallel(params double[] parallelShares)
    {
        var sim = new Simulation(seed: 9);
        int parallelLoops = 0;
        return sim.RunUntil(parallelIsBetter: true, maxLoops: 10_000, parallel => (long)(AloneTicks *
            (parallel ? parallelShares[Math.Min(parallelLoops++, parallelShares.Length - 1)] : 1)));
    }

    [Fact]
    public void AKindWithFewLoopsIsNotSettledByItsFirstUnluckyOne()
    {
        // An encode's projections: ~10 ms loops, a few hundred a minute. Parallel takes half the time alone does, but
        // its first two loops were slow (the worker's core busy for a moment): a probe that cost more than alone would
        // hold the next one back 64 loops, a large part of such a kind's loops; each mode is measured 8 times first.
        int loops = LoopsUntilParallel(1.5, 1.5, 0.5);
        Assert.True(loops <= 30, $"alone preferred for {loops} loops");
    }

    [Fact]
    public void MeasuringAKindDoesNotSpendTheProbeBudget()
    {
        // A slow start (8 slow parallel loops, say while the machine was busy) makes parallel look worse; the next
        // probes must not wait to pay for those 8, which every kind of loop needs once.
        int loops = LoopsUntilParallel(1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 0.5);
        Assert.True(loops <= 100, $"alone preferred for {loops} loops");
    }

    [Fact]
    public void ACallerDescheduledForLongInOneLoopDoesNotDecideTheNextHundreds()
    {
        var sim = new Simulation(seed: 6);
        sim.Run(5000, sim.Quiet);
        // One parallel loop took 10,000 times its usual time (the caller lost its core, nothing to do with the mode).
        LoopChoice choice = sim.Judge.Choose();
        Assert.True(choice.Parallel && !choice.Probe);
        sim.Judge.Record(choice, (long)(10_000 * ParallelTicks), work: 1);
        Assert.True(sim.Judge.ParallelIsBetter);
    }

    [Fact]
    public void TimesAreComparedPerUnitOfWork()
    {
        // Loops of one kind vary in size (a bucket spans a factor of two); parallel is 2x faster per unit, and the
        // parallel loops happen to be the larger ones.
        var sim = new Simulation(seed: 7);
        for (int i = 0; i < 2000; i++)
        {
            LoopChoice choice = sim.Judge.Choose();
            double work = choice.Parallel ? 1.9 : 1.0;
            sim.Judge.Record(choice, (long)((choice.Parallel ? ParallelTicks : AloneTicks) * work), work);
        }
        Assert.True(sim.Judge.ParallelIsBetter);
    }

    [Fact]
    public void AProbeThatHadToWakeTheWorkerIsTriedAgainAndThenCounted()
    {
        var sim = new Simulation(seed: 8);
        sim.Run(5000, sim.Crowded);
        Assert.False(sim.Judge.ParallelIsBetter);
        LoopChoice probe = default;
        for (int i = 0; i <= ParallelJudge.MaxProbeGap + ParallelJudge.MinProbeGap && !probe.Probe; i++)
        {
            probe = sim.Judge.Choose();
            if (!probe.Probe) sim.Judge.Record(probe, (long)AloneTicks, work: 1);
        }
        Assert.True(probe is { Parallel: true, Probe: true });

        var (parallelSamples, _, _) = sim.Judge.Describe();
        Assert.False(sim.Judge.Record(probe, (long)(2 * AloneTicks), work: 1, wokeSleeper: true));
        Assert.Equal(probe, sim.Judge.Choose());
        // The retry counts whatever it finds, asleep or not, so a worker that never wakes in time still counts.
        Assert.True(sim.Judge.Record(probe, (long)(2 * AloneTicks), work: 1, wokeSleeper: true));
        Assert.Equal(Math.Min(parallelSamples + 1, ParallelJudge.Window), sim.Judge.Describe().ParallelSamples);
    }
}
