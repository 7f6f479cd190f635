using BenchmarkDotNet.Attributes;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// PackedLinear on the projections the service runs: encoder K and V (whisper-base, bart-large), bart-base's
/// q/o and k/v, and decode steps of 1 and 8 rows. Program.cs does not use BenchmarkSwitcher yet; until it does, run
/// this class from a console project with BenchmarkSwitcher.FromAssembly(typeof(LinearBenchmarks).Assembly).Run(args). Every case is two projections of the same x (K and V, or q and o),
/// so GFLOP/s = 4·rows·in·out / time.
/// </summary>
[MemoryDiagnoser]
public class LinearBenchmarks
{
    private PackedLinear _first = null!, _second = null!;
    private float[] _x = [], _y1 = [], _y2 = [];

    // "rows x in x out workload", at most 20 characters so BenchmarkDotNet's table does not cut them.
    [Params(
        "1500x512x512 whisper",
        "1024x1024x1024 bartL",
        "128x768x768 bartB qo",
        "512x768x768 bartB kv",
        "1x512x512 decode",
        "8x512x512 decode",
        "1x1024x1024 decode",
        "8x1024x1024 decode")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(KernelVariant.Vector512, KernelVariant.Vector256)]
    public KernelVariant Variant { get; set; }

    private int _rows;

    [GlobalSetup]
    public void Setup()
    {
        string[] dims = Shape[..Shape.IndexOf(' ')].Split('x');
        _rows = int.Parse(dims[0]);
        int inFeatures = int.Parse(dims[1]), outFeatures = int.Parse(dims[2]);
        var random = new Random(1);
        _x = Values(random, _rows * inFeatures);
        _first = PackedLinear.Pack(Values(random, outFeatures * inFeatures), outFeatures, inFeatures, Values(random, outFeatures));
        _second = PackedLinear.Pack(Values(random, outFeatures * inFeatures), outFeatures, inFeatures, Values(random, outFeatures));
        _y1 = new float[_rows * outFeatures];
        _y2 = new float[_rows * outFeatures];
    }

    [Benchmark]
    public void TwoProjections()
    {
        _first.Apply(_x, _rows, _y1, Variant, Threads);
        _second.Apply(_x, _rows, _y2, Variant, Threads);
    }

    private static float[] Values(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
