using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// `anchor` mode: times the libtorch anchor's workloads on our engine and prints the same JSON shape on stdout
/// (workload -> median_us, p10_us, p90_us, gflops, gbps, threads, iters, ...; "_meta" for the run), a table on stderr.
/// </summary>
public static class AnchorMode
{
    public const string Usage =
        "usage: anchor [--threads N] [--variant NAME] [--only NAME[,NAME]] [--rounds N] [--iters N] [--unjudged] [--list] [--no-check]\n" +
        "  --threads N   ComputeOptions.MaxThreads (default 2)\n" +
        "  --variant V   force a kernel variant: Scalar, Vector128, Vector256, Vector512 (default: the widest)\n" +
        "  --only A,B    run only these workloads (see --list)\n" +
        "  --rounds N    run the workloads N times in turn and report the median of the rounds (default 3)\n" +
        "  --iters N     fixed number of timed calls per workload (default: adaptive, ~2 s each)\n" +
        "  --unjudged    open every parallel loop to the workers, as before loops were judged (to compare the judges\n" +
        "                with it in separate processes; `threads --unjudged` does it in one)\n" +
        "  --no-check    skip the numerical self-check";

    public static int Run(string[] args)
    {
        int threads = 2, roundCount = 3;
        var variant = KernelVariants.Best;
        int? fixedIters = null;
        HashSet<string>? only = null;
        bool list = false, check = true, unjudged = false;
        for (int i = 0; i < args.Length; i++)
        {
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            int? PositiveInt() =>
                int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v : null;
            switch (args[i])
            {
                case "--threads":
                    if (PositiveInt() is not int t) return Fail("--threads needs an integer >= 1");
                    threads = t;
                    break;
                case "--variant":
                    if (!KernelVariants.TryParse(Value() ?? "?", out variant, out string? variantError)) return Fail($"--variant: {variantError}");
                    break;
                case "--iters":
                    if (PositiveInt() is not int n) return Fail("--iters needs an integer >= 1");
                    fixedIters = n;
                    break;
                case "--rounds":
                    if (PositiveInt() is not int r) return Fail("--rounds needs an integer >= 1");
                    roundCount = r;
                    break;
                case "--only":
                    if (Value() is not string names) return Fail("--only needs NAME[,NAME]");
                    only = [.. names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "--list": list = true; break;
                case "--no-check": check = false; break;
                case "--unjudged": unjudged = true; break;
                case "-h":
                case "--help":
                    Console.Error.WriteLine(Usage);
                    return 0;
                default:
                    return Fail($"unknown argument '{args[i]}'");
            }
        }

        if (list)
        {
            foreach (var w in AnchorWorkloads.All) Console.Error.WriteLine($"{w.Name,-28} {w.Kind}");
            return 0;
        }
        var workloads = AnchorWorkloads.Select(only, out string? unknown);
        if (unknown is not null) return Fail(unknown);

        var options = new ComputeOptions(variant, threads);
        var total = Stopwatch.StartNew();
        string cpu = CpuModel();
        Console.Error.WriteLine($"anchor: CrossAttention.Core, variant={options.Variant}, MaxThreads={options.MaxThreads}, " +
                                $"cores={Environment.ProcessorCount}, .NET {Environment.Version}, cpu=\"{cpu}\", loadavg {LoadAverage()}");

        var meta = new JsonObject
        {
            ["engine"] = "CrossAttention.Core",
            ["variant"] = options.Variant.ToString(),
            ["supported_variants"] = string.Join(",", KernelVariants.Supported),
            ["threads"] = threads,
            ["loops"] = unjudged ? "every parallel loop opened to the workers (unjudged)" : "as their kinds' judges choose",
            ["cpu"] = cpu,
            ["cpu_info"] = AnchorCpu.Describe(options.Variant),
            ["rounds"] = roundCount,
            ["logical_cpus"] = Environment.ProcessorCount,
            ["dotnet"] = Environment.Version.ToString(),
            ["server_gc"] = System.Runtime.GCSettings.IsServerGC,
            ["utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["iters_mode"] = fixedIters is int fixedCount ? $"fixed {fixedCount} per round" : "adaptive (~2 s per workload and round)",
            ["statistic"] = "median_us/p10_us/p90_us: the median over rounds of each round's median/p10/p90 (round_medians_us lists them)",
            ["units"] = "us per iteration; GFLOP/s and GB/s use 1e9 and the median time",
            // Other processes on the same cores skew every number; the load average says how much to trust a run.
            ["loadavg_start"] = LoadAverage(),
        };

        bool ok = true;
        if (check)
        {
            ok = AnchorSelfCheck.Run(options);
            meta["self_check"] = ok ? "PASS" : "FAIL";
        }

        var perRound = workloads.ToDictionary(w => w.Name, _ => new List<JsonObject>());
        // Rounds interleave the workloads, so a noisy minute moves one round of each, not all rounds of one.
        KernelParallel.CountingEnabled = true;
        KernelParallel.AlwaysParallelForBenchmarks = unjudged;
        for (int round = 1; round <= roundCount; round++)
        {
            foreach (var w in workloads)
            {
                Action step = w.Setup(options);
                KernelParallel.ResetCounts();
                AnchorStats stats = AnchorTimer.Measure(step, fixedIters);
                KernelParallelCounts counts = KernelParallel.ReadCounts();
                // Drop this workload's data before the next one is built, as the anchor does.
                step = null!;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                perRound[w.Name].Add(Entry(w, stats, threads, counts));
                Console.Error.WriteLine($"  round {round}  {w.Name,-28} median {stats.MedianUs,12:F1} us  ({stats.Iters} iters)  " +
                                        $"items caller/workers/alone {counts.ItemsByCaller}/{counts.ItemsByWorkers}/{counts.ItemsAlone}");
            }
        }
        var results = new JsonObject();
        foreach (var w in workloads) results[w.Name] = AnchorRounds.Combine(perRound[w.Name]);
        meta["total_seconds"] = Round(total.Elapsed.TotalSeconds);
        meta["loadavg_end"] = LoadAverage();
        PrintTable(workloads, results, threads);

        var output = new JsonObject { ["_meta"] = meta };
        foreach (var (name, value) in results.ToList())
        {
            results.Remove(name);
            output[name] = value;
        }
        Console.WriteLine(output.ToJsonString(AnchorRounds.JsonOptions));
        Console.Error.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s; self-check {(check ? (ok ? "PASS" : "FAIL") : "skipped")}");
        return ok ? 0 : 1;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"{message}\n{Usage}");
        return 2;
    }

    private static double Round(double v) => AnchorRounds.Round(v);

    /// <summary>One round of one workload, in the anchor's JSON shape, plus who ran the parallel loops' items.</summary>
    private static JsonObject Entry(AnchorWorkload w, AnchorStats stats, int threads, KernelParallelCounts counts)
    {
        var entry = new JsonObject
        {
            ["median_us"] = Round(stats.MedianUs),
            ["p10_us"] = Round(stats.P10Us),
            ["p90_us"] = Round(stats.P90Us),
            ["gflops"] = Round(w.Flops / (stats.MedianUs * 1e3)),
            ["gbps"] = Round(w.Bytes / (stats.MedianUs * 1e3)),
            ["threads"] = threads,
            ["iters"] = stats.Iters,
            ["flops"] = w.Flops,
            ["bytes"] = w.Bytes,
            ["bytes_meaning"] = w.BytesMeaning,
            ["kind"] = w.Kind,
        };
        if (w.Note != null) entry["note"] = w.Note;
        if (threads > 1)
        {
            // Warm-up and timed calls together: who ran the items of the kernels' parallel loops.
            entry["parallel"] = new JsonObject
            {
                ["loops"] = counts.ParallelLoops,
                ["items_by_caller"] = counts.ItemsByCaller,
                ["items_by_workers"] = counts.ItemsByWorkers,
                ["items_alone"] = counts.ItemsAlone,
                ["loops_busy_elsewhere"] = counts.LoopsBusyElsewhere,
                ["loops_alone_by_choice"] = counts.LoopsAloneByChoice,
                ["probes"] = counts.Probes,
                ["cold_probes"] = counts.ColdProbes,
                ["worker_joins"] = counts.WorkerJoins,
                ["worker_joins_after_sleep"] = counts.WorkerJoinsAfterSleep,
                ["mean_join_delay_us"] = Round(counts.WorkerJoins > 0 ? counts.JoinDelayUs / counts.WorkerJoins : 0),
                ["mean_caller_wait_us"] = Round(counts.ParallelLoops > 0 ? counts.CallerWaitUs / counts.ParallelLoops : 0),
                // What each kind of loop learned by the end of the round (the judges carry over between workloads).
                ["loop_kinds"] = new JsonArray([.. KernelParallel.DescribeLoopKinds().Select(k => (JsonNode)
                    $"{k.Body} 2^{k.WorkLog2}: parallel/alone time {Round(k.ParallelOverAlone)} ({k.ParallelSamples}/{k.AloneSamples} loops)")]),
            };
        }
        return entry;
    }

    private static void PrintTable(IReadOnlyList<AnchorWorkload> workloads, JsonObject results, int threads)
    {
        Console.Error.WriteLine();
        Console.Error.WriteLine($"threads={threads}; median, p10 and p90 over rounds");
        Console.Error.WriteLine($"{"workload",-28} {"median_us",12} {"p10_us",12} {"p90_us",12} {"GFLOP/s",9} {"GB/s",8} {"iters",7}  bytes counted");
        Console.Error.WriteLine(new string('-', 120));
        foreach (var w in workloads)
        {
            var r = results[w.Name]!;
            double V(string key) => r[key]!.GetValue<double>();
            Console.Error.WriteLine($"{w.Name,-28} {V("median_us"),12:F1} {V("p10_us"),12:F1} {V("p90_us"),12:F1} {V("gflops"),9:F1} {V("gbps"),8:F1} {r["iters"]!.GetValue<int>(),7}  {w.BytesMeaning}");
        }
        Console.Error.WriteLine();
    }

    /// <summary>The 1, 5 and 15 minute load averages, or "unknown" off Linux.</summary>
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

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line.Split(':', 2)[1].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }
}
