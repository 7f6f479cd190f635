using BenchmarkDotNet.Running;

namespace CrossAttention.Benchmarks;

/// <summary>
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- anchor [--threads N] [--only A,B] [--rounds N] [--iters N] [--list] [--no-check]
///     times the libtorch anchor's workloads on our engine: JSON on stdout, table and self-check on stderr
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- threads [--only A,B] [--threads N] [--seconds S] [--block-ms M]
///     the anchor's workloads at 1 and at N threads in alternating blocks in one process: the speed-up under one load
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- merge RUN1.json RUN2.json ...
///     one anchor-format JSON whose figures are the median of the runs (rounds run as separate processes)
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- compare OURS.json LIBTORCH.json
///     markdown table of speed-ups against the targets
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- sessions [--sessions 16] [--callers 16] ...
///     the in-process yardstick of benchmarks/http/run.sh: concurrent decode steps through the service's scheduler
/// dotnet run -c Release --project benchmarks/CrossAttention.Benchmarks -- capacity
///     sessions per GiB of K/V budget for whisper-base, bart-large and t5-base sizes, per K/V dtype (markdown)
/// anything else goes to BenchmarkDotNet, e.g. -- --filter '*'
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "anchor") return AnchorMode.Run(args[1..]);
        if (args.Length > 0 && args[0] == "threads") return ThreadsMode.Run(args[1..]);
        if (args.Length > 0 && args[0] == "sessions") return SessionsMode.Run(args[1..]);
        if (args.Length > 0 && args[0] == "merge") return AnchorRounds.Merge(args[1..]);
        if (args.Length > 0 && args[0] == "compare") return CompareMode.Run(args[1..]);
        if (args.Length > 0 && args[0] == "capacity") return CapacityMode.Run();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
