using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// `threads` mode: each anchor workload at 1 thread and at N threads in one process, in rotating blocks of a few
/// tens of milliseconds, so all see the same minute of a shared machine's load; separate runs of `anchor --threads`
/// minutes apart differ by more than the effect when other processes come and go. With --unjudged a third arm runs at
/// N threads with every parallel loop opened to the workers, as before loops were judged. JSON on stdout, a table on
/// stderr.
/// </summary>
public static class ThreadsMode
{
    public const string Usage =
        "usage: threads [--only NAME[,NAME]] [--threads N] [--seconds S] [--block-ms M] [--unjudged]\n" +
        "  --only A,B    workloads (see anchor --list; default: all)\n" +
        "  --threads N   the thread count set against 1 (default 2)\n" +
        "  --seconds S   timed seconds per workload, all arms together (default 8)\n" +
        "  --block-ms M  length of one block of steps in one arm (default 50)\n" +
        "  --unjudged    also run N threads with every parallel loop opened to the workers (not judged)";

    private const double WarmupSeconds = 0.3;

    private sealed class Arm(string name, Action step, bool unjudged)
    {
        public string Name => name;
        public Action Step => step;
        public bool Unjudged => unjudged;
        public readonly List<double> Times = [];
        public readonly List<double> BlockMedians = [];
        public double CpuSeconds, WallSeconds; // the whole process's CPU time over this arm's blocks, and their wall time
    }

    public static int Run(string[] args)
    {
        int threads = 2;
        double seconds = 8, blockMs = 50;
        bool unjudged = false;
        HashSet<string>? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            double? Positive() =>
                double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : null;
            switch (args[i])
            {
                case "--threads":
                    if (Positive() is not double t || t < 2 || t != Math.Floor(t)) return Fail("--threads needs an integer >= 2");
                    threads = (int)t;
                    break;
                case "--seconds":
                    if (Positive() is not double s) return Fail("--seconds needs a positive number");
                    seconds = s;
                    break;
                case "--block-ms":
                    if (Positive() is not double b) return Fail("--block-ms needs a positive number");
                    blockMs = b;
                    break;
                case "--unjudged": unjudged = true; break;
                case "--only":
                    if (Value() is not string names) return Fail("--only needs NAME[,NAME]");
                    only = [.. names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "-h":
                case "--help":
                    Console.Error.WriteLine(Usage);
                    return 0;
                default:
                    return Fail($"unknown argument '{args[i]}'");
            }
        }
        var workloads = AnchorWorkloads.Select(only, out string? unknown);
        if (unknown is not null) return Fail(unknown);

        var output = new JsonObject
        {
            ["_meta"] = new JsonObject
            {
                ["threads"] = threads, ["seconds"] = seconds, ["block_ms"] = blockMs,
                ["statistic"] = "median_us: median µs per step over all its arm's steps; speedup: 1-thread median ÷ the " +
                                "arm's; block_speedup: median over rotations of (1-thread block median ÷ the arm's block median); " +
                                "cpu_cores: the process's CPU time over the arm's blocks ÷ their wall time",
                ["loadavg_start"] = LoadAverage(),
            },
        };
        KernelParallel.CountingEnabled = true;
        // CPU time over wall time, per arm: how many cores the arm took. Beside a busy process, a gain that comes with
        // more cores is CPU taken from that process, not work done better.
        using var self = Process.GetCurrentProcess();
        Console.Error.WriteLine($"{"workload",-28} {"arm",-12} {"median µs",10} {"speed-up",9} {"per block",9} {"cores",6}");
        foreach (var w in workloads)
        {
            var arms = new List<Arm>
            {
                new("1", w.Setup(new ComputeOptions(KernelVariants.Best, 1)), false),
                new($"{threads}", w.Setup(new ComputeOptions(KernelVariants.Best, threads)), false),
            };
            if (unjudged) arms.Add(new($"{threads}-unjudged", w.Setup(new ComputeOptions(KernelVariants.Best, threads)), true));
            double stepSeconds = 0;
            foreach (var arm in arms)
            {
                KernelParallel.AlwaysParallelForBenchmarks = arm.Unjudged;
                stepSeconds = Math.Max(stepSeconds, Warm(arm.Step));
            }
            int stepsPerBlock = (int)Math.Clamp(blockMs / 1e3 / stepSeconds, 1, 100_000);
            int rotations = Math.Max(2, (int)(seconds / (blockMs / 1e3)) / arms.Count);

            var block = new double[stepsPerBlock];
            var counts = new KernelParallelCounts[arms.Count];
            for (int r = 0; r < rotations; r++)
            {
                // Each rotation starts with a different arm, so none always follows the same one.
                for (int k = 0; k < arms.Count; k++)
                {
                    int index = (r + k) % arms.Count;
                    Arm arm = arms[index];
                    KernelParallel.AlwaysParallelForBenchmarks = arm.Unjudged;
                    KernelParallelCounts before = KernelParallel.ReadCounts();
                    self.Refresh();
                    TimeSpan cpuBefore = self.TotalProcessorTime;
                    long wallBefore = Stopwatch.GetTimestamp();
                    Time(arm.Step, block);
                    arm.WallSeconds += Stopwatch.GetElapsedTime(wallBefore).TotalSeconds;
                    self.Refresh();
                    arm.CpuSeconds += (self.TotalProcessorTime - cpuBefore).TotalSeconds;
                    counts[index] = Add(counts[index], Subtract(KernelParallel.ReadCounts(), before));
                    arm.Times.AddRange(block);
                    arm.BlockMedians.Add(Median(block));
                }
            }
            KernelParallel.AlwaysParallelForBenchmarks = false;
            double medianOne = Median([.. arms[0].Times]);
            var entry = new JsonObject { ["rotations"] = rotations, ["steps_per_block"] = stepsPerBlock };
            for (int a = 0; a < arms.Count; a++)
            {
                Arm arm = arms[a];
                double median = Median([.. arm.Times]);
                double perBlock = Median([.. arm.BlockMedians.Select((m, r) => arms[0].BlockMedians[r] / m)]);
                Console.Error.WriteLine($"{(a == 0 ? w.Name : ""),-28} {arm.Name,-12} {median,10:F1} {medianOne / median,9:F3} {perBlock,9:F3} {arm.CpuSeconds / arm.WallSeconds,6:F2}");
                var armEntry = new JsonObject { ["median_us"] = Round(median), ["cpu_cores"] = Round(arm.CpuSeconds / arm.WallSeconds) };
                if (a > 0)
                {
                    armEntry["speedup"] = Round(medianOne / median);
                    armEntry["block_speedup"] = Round(perBlock);
                    KernelParallelCounts c = counts[a];
                    armEntry["parallel"] = new JsonObject
                    {
                        ["loops"] = c.ParallelLoops,
                        ["items_by_caller"] = c.ItemsByCaller,
                        ["items_by_workers"] = c.ItemsByWorkers,
                        ["items_alone"] = c.ItemsAlone,
                        ["loops_alone_by_choice"] = c.LoopsAloneByChoice,
                        ["probes"] = c.Probes,
                        ["cold_probes"] = c.ColdProbes,
                    };
                }
                entry[arm.Name] = armEntry;
            }
            // What each kind of loop had learned by the end (the judges carry over between workloads).
            entry["loop_kinds"] = new JsonArray([.. KernelParallel.DescribeLoopKinds().Select(k => (JsonNode)
                $"{k.Body} 2^{k.WorkLog2}: parallel/alone time {Round(k.ParallelOverAlone)} ({k.ParallelSamples}/{k.AloneSamples} loops)")]);
            output[w.Name] = entry;
            arms.Clear();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        ((JsonObject)output["_meta"]!)["loadavg_end"] = LoadAverage();
        Console.WriteLine(output.ToJsonString(AnchorRounds.JsonOptions));
        return 0;
    }

    private static KernelParallelCounts Subtract(KernelParallelCounts a, KernelParallelCounts b) => new(
        a.ParallelLoops - b.ParallelLoops, a.ItemsByCaller - b.ItemsByCaller, a.ItemsByWorkers - b.ItemsByWorkers,
        a.ItemsAlone - b.ItemsAlone, a.LoopsBusyElsewhere - b.LoopsBusyElsewhere, a.LoopsAloneByChoice - b.LoopsAloneByChoice,
        a.Probes - b.Probes, a.ColdProbes - b.ColdProbes, a.WorkerJoins - b.WorkerJoins,
        a.WorkerJoinsAfterSleep - b.WorkerJoinsAfterSleep, a.JoinDelayUs - b.JoinDelayUs, a.CallerWaitUs - b.CallerWaitUs);

    private static KernelParallelCounts Add(KernelParallelCounts a, KernelParallelCounts b) => new(
        a.ParallelLoops + b.ParallelLoops, a.ItemsByCaller + b.ItemsByCaller, a.ItemsByWorkers + b.ItemsByWorkers,
        a.ItemsAlone + b.ItemsAlone, a.LoopsBusyElsewhere + b.LoopsBusyElsewhere, a.LoopsAloneByChoice + b.LoopsAloneByChoice,
        a.Probes + b.Probes, a.ColdProbes + b.ColdProbes, a.WorkerJoins + b.WorkerJoins,
        a.WorkerJoinsAfterSleep + b.WorkerJoinsAfterSleep, a.JoinDelayUs + b.JoinDelayUs, a.CallerWaitUs + b.CallerWaitUs);

    /// <summary>Runs the step for ~0.3 s (JIT tiering, caches, the parallel loops' judges); returns seconds per step.</summary>
    private static double Warm(Action step)
    {
        var stopwatch = Stopwatch.StartNew();
        int steps = 0;
        while (steps < 3 || stopwatch.Elapsed.TotalSeconds < WarmupSeconds)
        {
            step();
            steps++;
        }
        return stopwatch.Elapsed.TotalSeconds / steps;
    }

    private static void Time(Action step, double[] us)
    {
        for (int i = 0; i < us.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            us[i] = (Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency;
        }
    }

    private static double Median(double[] values) => Percentile(values, 0.5);

    private static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        double[] sorted = [.. values.Order()];
        double pos = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    private static double Round(double v) => AnchorRounds.Round(v);

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"{message}\n{Usage}");
        return 2;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }
}
