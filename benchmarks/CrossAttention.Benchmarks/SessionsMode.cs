using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Features;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Core.Engine;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Benchmarks;

/// <summary>
/// `sessions` mode: the in-process yardstick of benchmarks/http/run.sh. The service's work without HTTP: the demo model
/// at the same size, the same number of sessions of the same source length, and concurrent callers each stepping its
/// own session (caller i on session i mod sessions) through the same scheduler and the same call the endpoint makes
/// (<see cref="CrossAttentionCompute.DecodeAsync"/> on a <see cref="ComputeGate"/> sized like the service's).
/// JSON on stdout: steps per second and per-step latency percentiles.
/// </summary>
/// <remarks>
/// Written against today's ComputeGate in the Api project; when the scheduler moves to Core, only this file changes.
/// </remarks>
public static class SessionsMode
{
    public const string Usage =
        "usage: sessions [--sessions 16] [--callers 16] [--seconds 10] [--warmup 5] [--m 1500] [--layers 6] [--d 512] [--heads 8] [--batch-rows 64]\n" +
        "  one decode step (n = 1, layer 0) at a time per caller; --callers 1 --sessions 1 gives the sequential per-step latency";

    public static int Run(string[] args)
    {
        int sessions = 16, callers = 16, m = 1500, layers = 6, d = 512, heads = 8, batchRows = 64;
        double seconds = 10, warmup = 5;
        for (int i = 0; i < args.Length; i += 2)
        {
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
        var gate = new ComputeGate(Environment.ProcessorCount, batchRows);
        var random = new Random(20261128);
        var encoded = new EncodedSource[sessions];
        var source = new float[m * d]; // [m, d]
        for (int s = 0; s < sessions; s++)
        {
            for (int i = 0; i < source.Length; i++) source[i] = (float)random.NextDouble() * 2 - 1;
            encoded[s] = model.Encode(source, m, default, ComputeOptions.Parallel(Environment.ProcessorCount));
        }
        var queries = new FloatMatrix[callers]; // [1, d] each, as a raw request body would arrive
        for (int c = 0; c < callers; c++)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(d * sizeof(float));
            var values = MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, d * sizeof(float)));
            for (int i = 0; i < d; i++) values[i] = (float)random.NextDouble() * 2 - 1;
            queries[c] = FloatMatrix.FromRented(buffer, 1, d);
        }

        Measure(model, gate, encoded, queries, warmup, record: false);
        long batchesBefore = gate.DecodeBatches, stepsBefore = gate.DecodeSteps;
        KernelParallel.CountingEnabled = true;
        KernelParallel.ResetCounts();
        var (elapsed, latencies) = Measure(model, gate, encoded, queries, seconds, record: true);
        KernelParallelCounts counts = KernelParallel.ReadCounts();
        long batches = gate.DecodeBatches - batchesBefore, steps = gate.DecodeSteps - stepsBefore;

        latencies.Sort();
        double Percentile(double p) => latencies.Count == 0 ? 0 : latencies[(int)Math.Min(latencies.Count - 1, Math.Round(p * (latencies.Count - 1)))];
        var result = new JsonObject
        {
            ["steps_per_second"] = Math.Round(latencies.Count / elapsed),
            ["p50_us"] = Math.Round(Percentile(0.50), 1),
            ["p90_us"] = Math.Round(Percentile(0.90), 1),
            ["p99_us"] = Math.Round(Percentile(0.99), 1),
            ["steps"] = latencies.Count,
            ["mean_batch_steps"] = batches > 0 ? Math.Round((double)steps / batches, 2) : 0,
            ["parallel_items_by_caller_workers_alone"] = $"{counts.ItemsByCaller}/{counts.ItemsByWorkers}/{counts.ItemsAlone}",
            ["_meta"] = new JsonObject
            {
                ["sessions"] = sessions, ["callers"] = callers, ["seconds"] = seconds, ["warmup_s"] = warmup,
                ["model"] = $"demo {layers} layers, d {d}, {heads} heads", ["m"] = m, ["n"] = 1, ["layer"] = 0,
                ["gate"] = $"ComputeGate({Environment.ProcessorCount} cores, {batchRows} batch rows)",
                ["loadavg"] = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown",
            },
        };
        Console.WriteLine(result.ToJsonString(AnchorRounds.JsonOptions));
        foreach (var e in encoded) e.Dispose();
        foreach (var q in queries) q.Dispose();
        return 0;
    }

    /// <summary>Every caller steps its session back to back until the time is up; latencies in µs when recording.</summary>
    private static (double Seconds, List<double> Latencies) Measure(CrossAttentionModel model, ComputeGate gate,
        EncodedSource[] sessions, FloatMatrix[] queries, double seconds, bool record)
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
                    await CrossAttentionCompute.DecodeAsync(gate, model, 0, cache, queries[caller], returnAttention: false,
                        CancellationToken.None);
                    if (record) perCaller[caller].Add((Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency);
                }
            });
        }
        Task.WaitAll(callers);
        double elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        return (elapsed, perCaller.SelectMany(l => l).ToList());
    }

    private static bool TryInt(string? text, out int value) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= 1;

    private static bool TryDouble(string? text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value >= 0;
}
