using System.Diagnostics;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

[CollectionDefinition(nameof(KernelParallelJudgingTests), DisableParallelization = true)]
public class KernelParallelJudgingCollection;

/// <summary>
/// KernelParallel's loops judged on real threads: loops opened to the workers that hold the caller up stop being
/// opened to them, and are tried again later. Alone in its collection, as it sets a hook every parallel loop runs.
/// </summary>
[Collection(nameof(KernelParallelJudgingTests))]
public class KernelParallelJudgingTests
{
    /// <summary>Items that busy-run for 2 µs each.</summary>
    private struct SpinningBody : IParallelBody
    {
        public readonly void Invoke(int index) => SpinFor(Stopwatch.Frequency / 500_000);
    }

    private static void SpinFor(long ticks)
    {
        long until = Stopwatch.GetTimestamp() + ticks;
        while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(4);
    }

    private const int Items = 16; // a loop alone: ~32 µs

    private static int s_opened; // loops opened to the workers, counted by the hook

    /// <summary>Runs loops of SpinningBody; returns how many of them were opened to the workers.</summary>
    private static int RunLoops(int loops)
    {
        int before = Volatile.Read(ref s_opened);
        var body = new SpinningBody();
        for (int loop = 0; loop < loops; loop++) KernelParallel.For(Items, 2, ref body);
        return Volatile.Read(ref s_opened) - before;
    }

    private static ParallelJudge Judge => KernelParallel.JudgeForTests<SpinningBody>(Items);

    [Fact]
    public void LoopsThatAWorkerHoldsUpAreRunAloneAndProbedAgainLater()
    {
        if (KernelParallel.MaxThreads < 2) return; // nothing to judge on one core
        long stall = Stopwatch.Frequency / 500; // 2 ms: what a worker preempted inside an item costs the caller
        bool stalling = true;
        KernelParallel.AfterCallerShareForTests = () =>
        {
            Interlocked.Increment(ref s_opened);
            if (Volatile.Read(ref stalling)) SpinFor(stall);
        };
        try
        {
            // Both modes measured past their first loops (measured whatever they cost).
            RunLoops(200);
            Assert.True(Judge.Describe() is { ParallelSamples: > ParallelJudge.MinSamples, AloneSamples: > ParallelJudge.MinSamples },
                $"judged {Judge.Describe()} after 200 loops");
            Assert.False(Judge.ParallelIsBetter);

            // Then loops are opened to the workers only to probe: each probe (and its retry if it had to wake the
            // worker) holds the caller ~60 loops' time, and probes may cost 1/128 of the time, up to a gap of 4096
            // loops. The previous rule (solo runs doubling up to 256 loops) did not see this wait at all.
            int openedWhileStalling = RunLoops(10_000);
            Assert.InRange(openedWhileStalling, 1, 8);
            Assert.False(Judge.ParallelIsBetter);

            // Once parallel loops stop holding the caller up, they are still probed: how often, and whether they win
            // again, depends on this machine's load (ParallelJudgeTests checks that with simulated times).
            Volatile.Write(ref stalling, false);
            int openedOnceQuiet = RunLoops(10_000);
            Assert.True(openedOnceQuiet >= 2, $"{openedOnceQuiet} of 10,000 loops opened to the workers once they stopped stalling");
        }
        finally
        {
            KernelParallel.AfterCallerShareForTests = null;
        }
    }
}
