using BenchmarkDotNet.Attributes;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Benchmarks;

/// <summary>
/// One decode step through CrossAttentionLayer (Q projection, attention over the cached K/V, O projection) at the
/// anchor's model shapes. The memory diagnoser shows whether a steady-state step allocates.
/// </summary>
[MemoryDiagnoser]
public class EndToEndBenchmarks
{
    private CrossAttentionLayer _layer = null!;
    private KeyValueCache _cache = null!;
    private float[] _queries = [];
    private float[] _output = [];
    private float[] _attention = [];
    private ComputeOptions _options;

    /// <summary>whisper-base: d=512, 8 heads, m=1500; bart-large: d=1024, 16 heads, m=1024.</summary>
    [Params("whisper-base", "bart-large")]
    public string Model { get; set; } = "bart-large";

    /// <summary>Queries per call: 1 for greedy decoding, 8 for a beam of 8.</summary>
    [Params(1, 8)]
    public int Queries { get; set; } = 1;

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var (d, heads, m) = Model switch
        {
            "whisper-base" => (512, 8, 1500),
            "bart-large" => (1024, 16, 1024),
            _ => throw new ArgumentException($"unknown model shape '{Model}'"),
        };
        _options = ComputeOptions.Parallel(Threads);
        var random = new Random(AnchorData.Seed);
        (_layer, _) = AnchorData.Layer(random, d, heads);
        _cache = _layer.Encode(AnchorData.Normal(random, m * d, 1f), m, default, _options);
        _queries = AnchorData.Normal(random, Queries * d, 1f);   // [n, d]
        _output = new float[Queries * d];                         // [n, d]
        _attention = new float[heads * Queries * m];              // [heads, n, m]
    }

    [Benchmark]
    public void Decode() => _layer.Decode(_cache, _queries, Queries, _output, default, _options);

    [Benchmark]
    public void DecodeWithWeights() => _layer.Decode(_cache, _queries, Queries, _output, _attention, _options);
}
