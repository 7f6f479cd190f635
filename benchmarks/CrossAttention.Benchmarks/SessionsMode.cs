using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Diagnostics.Metrics;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Scheduling;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Benchmarks;

/// <summary>
/// `sessions` mode: the in-process yardstick of benchmarks/http/run.sh. The service's work without HTTP: the demo model
/// at the same size, the same number of sessions of the same source length, and concurrent callers each stepping its
/// own session (caller i on session i mod sessions) through the same scheduler the endpoint uses
/// (<see cref="ComputeGate.DecodeAsync(CrossAttentionLayer, KeyValueCache, ReadOnlyMemory{float}, int, Memory{float}, Memory{float}, CancellationToken)"/>
/// on a gate sized like the service's, each step counted as an arrival like the endpoint's request, a fresh output
/// array per step as the endpoint allocates).
/// JSON on stdout: steps per second and per-step latency percentiles.
/// </summary>
public static class SessionsMode
{
    public const string Usage =
        "usage: sessions [--sessions 16] [--callers 16] [--seconds 10] [--warmup 5] [--m 1500] [--layers 6] [--d 512] [--heads 8] [--batch-rows 64] [--serve]\n" +
        "  one decode step (n = 1, layer 0) at a time per caller; --callers 1 --sessions 1 gives the sequential per-step latency\n" +
        "  --serve: encode --sessions sessions and warm up once, then measure once per line read from stdin,\n" +
        "  \"<sessions> <callers> <seconds>\" (sessions at most --sessions), one JSON line each, until end of input";

    public static int Run(string[] args)
    {
        int sessions = 16, callers = 16, m = 1500, layers = 6, d = 512, heads = 8, batchRows = 64;
        double seconds = 10, warmup = 5;
        bool serve = false;
        for (int i = 0; i < args.Length; i += 2)
        {
            if (args[i] == "--serve")
            {
                serve = true;
                i--;
                continue;
            }
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = args[i] switch
            {
                "--sessions" => TryInt(value, out sessions),
                "--callers" => TryInt(value, out callers),
                "--m" => TryInt(value, out m),
                "--layers" => TryInt(value, out layers),
                "--d" => TryInt(value, out d),
                "--heads" => TryInt(value, out heads),
                "--batch-rows" => TryInt(value, out batchRows),
                "--seconds" => TryDouble(value, out seconds),
                "--warmup" => TryDouble(value, out warmup),
                _ => false,
            };
            if (!ok)
            {
                Console.Error.WriteLine($"bad or unknown argument '{args[i]} {value}'\n{Usage}");
                return 2;
            }
        }

        var model = DemoModel.Create(layers, d, heads);
        using var batchCounts = new BatchCounts();
        var gate = new ComputeGate(Environment.ProcessorCount, batchRows, metrics: batchCounts.Metrics);
        var random = new Random(20261128);
        var encoded = new EncodedSource[sessions];
        var source = new float[m * d]; // [m, d]
        for (int s = 0; s < sessions; s++)
        {
            for (int i = 0; i < source.Length; i++) source[i] = (float)random.NextDouble() * 2 - 1;
            encoded[s] = model.Encode(source, m, default, ComputeOptions.Parallel(Environment.ProcessorCount));
        }
        int maxCallers = Math.Max(callers, 64);
        var queries = new float[maxCallers][]; // [1, d] each, as a raw request body would arrive
        for (int c = 0; c < maxCallers; c++)
        {
            queries[c] = new float[d];
            for (int i = 0; i < d; i++) queries[c][i] = (float)random.NextDouble() * 2 - 1;
        }
        var shape = new Shape(layers, d, heads, m, batchRows, warmup);

        Measure(model, gate, encoded, queries[..callers], warmup, record: false);
        if (!serve)
        {
            Console.WriteLine(MeasureOnce(model, gate, batchCounts, encoded, queries[..callers], seconds, shape).ToJsonString(AnchorRounds.JsonOptions));
        }
        else
        {
            // One process for every round of benchmarks/http/run.sh: the sessions are encoded and the code is warm once,
            // and the process computes only while a request of its own is being measured (never beside the server).
            // The first line says it is ready (encoding and warm-up are done).
            Console.WriteLine(new JsonObject { ["ready"] = true }.ToJsonString());
            while (Console.ReadLine() is { } line)
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length != 3 || !TryInt(words[0], out int roundSessions) || roundSessions > sessions ||
                    !TryInt(words[1], out int roundCallers) || roundCallers > maxCallers || !TryDouble(words[2], out double roundSeconds))
                {
                    Console.Error.WriteLine($"bad request '{line}': want \"<sessions ≤ {sessions}> <callers ≤ {maxCallers}> <seconds>\"");
                    return 2;
                }
                var result = MeasureOnce(model, gate, batchCounts, encoded[..roundSessions], queries[..roundCallers], roundSeconds, shape);
                Console.WriteLine(result.ToJsonString());
            }
        }
        foreach (var e in encoded) e.Dispose();
        return 0;
    }

    private readonly record struct Shape(int Layers, int D, int Heads, int M, int BatchRows, double Warmup);

    private static JsonObject MeasureOnce(CrossAttentionModel model, ComputeGate gate, BatchCounts batchCounts,
        EncodedSource[] encoded, float[][] queries, double seconds, Shape shape)
    {
        long batchesBefore = batchCounts.Batches, stepsBefore = batchCounts.Steps;
        KernelParallel.CountingEnabled = true;
        KernelParallel.ResetCounts();
        var (elapsed, latencies, perCaller) = Measure(model, gate, encoded, queries, seconds, record: true);
        KernelParallelCounts counts = KernelParallel.ReadCounts();
        long batches = batchCounts.Batches - batchesBefore, steps = batchCounts.Steps - stepsBefore;

        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0 ? 0 : latencies[(int)Math.Min(latencies.Count - 1, Math.Round(p * (latencies.Count - 1)))];
        return new JsonObject
        {
            ["steps_per_second"] = Math.Round(latencies.Count / elapsed),
            ["p50_us"] = Math.Round(Percentile(0.50), 1),
            ["p90_us"] = Math.Round(Percentile(0.90), 1),
            ["p99_us"] = Math.Round(Percentile(0.99), 1),
            ["steps"] = latencies.Count,
            ["mean_batch_steps"] = batches > 0 ? Math.Round((double)steps / batches, 2) : 0,
            ["parallel_items_by_caller_workers_alone"] = $"{counts.ItemsByCaller}/{counts.ItemsByWorkers}/{counts.ItemsAlone}",
            // Equal counts: every caller stepped all along (a few callers doing all the steps was the old instability).
            ["steps_per_caller_min_max"] = $"{perCaller.Min()}/{perCaller.Max()}",
            ["thread_pool_threads"] = ThreadPool.ThreadCount,
            ["_meta"] = new JsonObject
            {
                ["sessions"] = encoded.Length, ["callers"] = queries.Length, ["seconds"] = seconds, ["warmup_s"] = shape.Warmup,
                ["model"] = $"demo {shape.Layers} layers, d {shape.D}, {shape.Heads} heads", ["m"] = shape.M, ["n"] = 1, ["layer"] = 0,
                ["gate"] = $"ComputeGate({Environment.ProcessorCount} cores, {shape.BatchRows} batch rows)",
                ["loadavg"] = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown",
            },
        };
    }

    /// <summary>Every caller steps its session back to back until the time is up; latencies in µs when recording.</summary>
    private static (double Seconds, List<double> Latencies, int[] StepsPerCaller) Measure(CrossAttentionModel model, ComputeGate gate,
        EncodedSource[] sessions, float[][] queries, double seconds, bool record)
    {
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var perCaller = new List<double>[queries.Length];
        long start = Stopwatch.GetTimestamp();
        var callers = new Task[queries.Length];
        for (int c = 0; c < callers.Length; c++)
        {
            int caller = c;
            perCaller[caller] = new List<double>(record ? 1 << 16 : 0);
            // Thread-pool tasks, as request handlers are; each one awaits its step as the endpoint does.
            callers[caller] = Task.Run(async () =>
            {
                KeyValueCache cache = sessions[caller % sessions.Length].Layers[0];
                while (Stopwatch.GetTimestamp() < end)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    using (gate.Arrive()) // as the endpoint counts its request, from before its body is read
                        await gate.DecodeAsync(model.Layers[0], cache, queries[caller], 1, new float[model.QueryDim], default,
                            CancellationToken.None);
                    if (record) perCaller[caller].Add((Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency);
                    // The next step is a new thread-pool work item, as a connection's next request is. A step the gate
                    // ran at once completes synchronously, and without this its caller would loop on its thread: how
                    // many callers step at all would then follow the thread pool's thread count as it ramps up
                    // (seconds), not the 16 callers, and the rate moved 2x between runs.
                    await Task.Yield();
                }
            });
        }
        Task.WaitAll(callers);
        double elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        return (elapsed, perCaller.SelectMany(l => l).ToList(), perCaller.Select(l => l.Count).ToArray());
    }

    private static bool TryInt(string? text, out int value) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= 1;

    private static bool TryDouble(string? text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value >= 0;

    /// <summary>Decode batches and the steps in them, as the gate reports them on its meter.</summary>
    private sealed class BatchCounts : IDisposable
    {
        private readonly DecodeBatchListener _listener;
        private long _batches, _steps;

        public BatchCounts() => _listener = new DecodeBatchListener(steps =>
        {
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _steps, steps);
        });

        public CrossAttentionMetrics Metrics => _listener.Metrics;
        public long Batches => Interlocked.Read(ref _batches);
        public long Steps => Interlocked.Read(ref _steps);

        public void Dispose() => _listener.Dispose();
    }
}
