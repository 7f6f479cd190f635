using BenchmarkDotNet.Attributes;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// The fused decode attention alone (no projections) at real decoder shapes. "-cold" workloads cycle through one
/// cache per layer so K/V come from DRAM rather than L3, as in a real step through 6 or 12 layers.
/// </summary>
[MemoryDiagnoser]
public class DecodeAttentionBenchmarks
{
    public sealed record Workload(string Name, int SourceLength, int Heads, int HeadDim, int Queries, int Layers)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Workload> Workloads() =>
    [
        new("decode-whisper-base", 1500, 8, 64, 1, 1),
        new("decode-whisper-base-cold", 1500, 8, 64, 1, 6),
        new("decode-bart-large", 1024, 16, 64, 1, 1),
        new("decode-bart-large-cold", 1024, 16, 64, 1, 12),
        new("beam8-bart-large", 1024, 16, 64, 8, 1),
        new("beam8-bart-large-cold", 1024, 16, 64, 8, 12),
    ];

    [ParamsSource(nameof(Workloads))]
    public Workload Shape { get; set; } = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(false, true)]
    public bool ReturnAttention { get; set; }

    private KeyValueCache[] _caches = [];
    private float[] _queries = [];
    private float[] _context = [];
    private float[] _attention = [];
    private float _scale;
    private int _layer;
    private float[] _projectedKeys = [];
    private float[] _projectedValues = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        int inner = Shape.Heads * Shape.HeadDim;
        _projectedKeys = RandomArray(random, Shape.SourceLength * inner);
        _projectedValues = RandomArray(random, Shape.SourceLength * inner);
        _caches = new KeyValueCache[Shape.Layers];
        for (int layer = 0; layer < Shape.Layers; layer++)
            _caches[layer] = KeyValueCache.Create(RandomArray(random, Shape.SourceLength * inner),
                RandomArray(random, Shape.SourceLength * inner), Shape.SourceLength, Shape.Heads, Shape.HeadDim, []);
        _queries = RandomArray(random, Shape.Queries * inner);
        _context = new float[Shape.Queries * inner];
        _attention = ReturnAttention ? new float[Shape.Heads * Shape.Queries * Shape.SourceLength] : [];
        _scale = 1f / MathF.Sqrt(Shape.HeadDim);
    }

    /// <summary>One layer's attention; successive invocations walk the layers like a decode step does.</summary>
    [Benchmark]
    public void Attend()
    {
        var cache = _caches[_layer];
        _layer = _layer + 1 == _caches.Length ? 0 : _layer + 1;
        DecodeAttention.Compute(_queries, Shape.Queries, cache.View, _scale, _context, _attention, KernelVariants.Best,
            Threads);
    }

    /// <summary>Building a cache from projected K and V (once per encode per layer).</summary>
    [Benchmark]
    public KeyValueCache CreateCache() =>
        KeyValueCache.Create(_projectedKeys, _projectedValues, Shape.SourceLength, Shape.Heads, Shape.HeadDim, []);

    private static float[] RandomArray(Random random, int length)
    {
        var array = new float[length];
        for (int k = 0; k < length; k++) array[k] = (float)(random.NextDouble() * 2 - 1);
        return array;
    }
}
