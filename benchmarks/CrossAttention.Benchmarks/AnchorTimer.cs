using System.Diagnostics;

namespace CrossAttention.Benchmarks;

public readonly record struct AnchorStats(double MedianUs, double P10Us, double P90Us, int Iters);

/// <summary>
/// The anchor's timing rule, so both sides are measured alike: warm up for at least 3 calls and ~0.3 s, then time
/// each call separately for ~2 s (5..20000 calls), or a fixed count; report the median and the 10th/90th percentiles.
/// </summary>
public static class AnchorTimer
{
    private const double WarmupSeconds = 0.3;
    private const double BudgetSeconds = 2.0;
    private const int MinIters = 5;
    private const int MaxIters = 20000;

    public static AnchorStats Measure(Action step, int? fixedIters)
    {
        // The warm-up also tiers the JIT up and gives the per-call estimate that sizes the timed run.
        int warm = 0;
        var stopwatch = Stopwatch.StartNew();
        int warmTarget = fixedIters is int fixedCount ? Math.Max(2, fixedCount / 10) : 3;
        while (warm < warmTarget || (fixedIters is null && stopwatch.Elapsed.TotalSeconds < WarmupSeconds))
        {
            step();
            warm++;
        }
        double estimateSeconds = stopwatch.Elapsed.TotalSeconds / warm;

        int iters = fixedIters ?? (int)Math.Clamp(BudgetSeconds / Math.Max(estimateSeconds, 1e-7), MinIters, MaxIters);
        var ticks = new long[iters];
        for (int i = 0; i < iters; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }
        var us = new double[iters];
        for (int i = 0; i < iters; i++) us[i] = ticks[i] * 1e6 / Stopwatch.Frequency;
        Array.Sort(us);
        return new AnchorStats(Percentile(us, 0.5), Percentile(us, 0.1), Percentile(us, 0.9), iters);
    }

    /// <summary>Linear interpolation between the closest ranks.</summary>
    private static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 1) return sorted[0];
        double pos = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
