using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// float32 ↔ bfloat16 / float16 over 1 M elements (4 MiB of float32: past L2, inside L3), every vector width. What an
/// encode pays to store a narrow cache, and what widening costs when done in bulk rather than in registers.
/// </summary>
public class PrecisionConversionBenchmarks
{
    private const int Count = 1 << 20;
    private float[] _floats = [];
    private ushort[] _narrow = [];
    private float[] _widened = [];

    [Params(KernelVariant.Vector512, KernelVariant.Vector256, KernelVariant.Vector128, KernelVariant.Scalar)]
    public KernelVariant Variant { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261202);
        _floats = new float[Count];
        for (int i = 0; i < Count; i++) _floats[i] = (float)(random.NextDouble() * 8 - 4);
        _narrow = new ushort[Count];
        _widened = new float[Count];
        Float16Narrowing.Narrow(_floats, _narrow);
    }

    [Benchmark] public void NarrowBFloat16() => BFloat16Narrowing.Narrow(_floats, _narrow, Variant);
    [Benchmark] public void WidenBFloat16() => BFloat16Widening.Widen(_narrow, _widened, Variant);
    [Benchmark] public void NarrowFloat16() => Float16Narrowing.Narrow(_floats, _narrow, Variant);
    [Benchmark] public void WidenFloat16() => Float16Widening.Widen(_narrow, _widened, Variant);
}

/// <summary>The same 1 M elements through TensorPrimitives (picks its own width) and a plain float32 copy, for scale.</summary>
public class PrecisionConversionBaselineBenchmarks
{
    private const int Count = 1 << 20;
    private float[] _floats = [];
    private Half[] _halves = [];
    private float[] _copy = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261202);
        _floats = new float[Count];
        for (int i = 0; i < Count; i++) _floats[i] = (float)(random.NextDouble() * 8 - 4);
        _halves = new Half[Count];
        _copy = new float[Count];
        TensorPrimitives.ConvertToHalf(_floats, _halves);
    }

    [Benchmark] public void TensorPrimitivesConvertToHalf() => TensorPrimitives.ConvertToHalf(_floats, _halves);
    [Benchmark] public void TensorPrimitivesConvertToSingle() => TensorPrimitives.ConvertToSingle(_halves, _copy);
    [Benchmark] public void CopyFloat32() => _floats.AsSpan().CopyTo(_copy);

    /// <summary>The same bits as TensorPrimitivesConvertToHalf (the tests check it), through the hand-written path.</summary>
    [Benchmark] public void Float16NarrowingBest() => Float16Narrowing.Narrow(_floats, MemoryMarshal.Cast<Half, ushort>(_halves.AsSpan()));
}

/// <summary>
/// One decode step's attention at whisper-base shape (m = 1500, 8 heads × 64, one query) over K/V cached as float32,
/// bfloat16 and float16, through the one production kernel. Each call takes the next of 12 layers, so K/V (72 MiB at
/// float32, 36 MiB narrow) mostly comes from DRAM, as in a cold step.
/// </summary>
public class NarrowDecodeAttentionBenchmarks
{
    private const int Layers = 12, SourceLength = 1500, Heads = 8, HeadDim = 64;
    private readonly float _scale = 1f / MathF.Sqrt(HeadDim);
    private float[] _query = [];
    private float[] _context = [];
    private CrossAttention.Core.Caching.KeyValueCache[] _float32 = [], _bfloat16 = [], _float16 = [];
    private int _layer;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261202);
        float[] Fill(int length)
        {
            var values = new float[length];
            for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            return values;
        }
        _query = Fill(Heads * HeadDim);
        _context = new float[Heads * HeadDim];
        _float32 = new CrossAttention.Core.Caching.KeyValueCache[Layers];
        _bfloat16 = new CrossAttention.Core.Caching.KeyValueCache[Layers];
        _float16 = new CrossAttention.Core.Caching.KeyValueCache[Layers];
        for (int layer = 0; layer < Layers; layer++)
        {
            float[] keys = Fill(SourceLength * Heads * HeadDim), values = Fill(SourceLength * Heads * HeadDim); // [m, heads·headDim]
            _float32[layer] = CrossAttention.Core.Caching.KeyValueCache.Create(keys, values, SourceLength, Heads, HeadDim, []);
            _bfloat16[layer] = CrossAttention.Core.Caching.KeyValueCache.Create(keys, values, SourceLength, Heads, HeadDim, [],
                elementType: KeyValueElementType.BFloat16);
            _float16[layer] = CrossAttention.Core.Caching.KeyValueCache.Create(keys, values, SourceLength, Heads, HeadDim, [],
                elementType: KeyValueElementType.Float16);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var cache in _float32.Concat(_bfloat16).Concat(_float16)) cache.Dispose();
    }

    private int NextLayer() => _layer = (_layer + 1) % Layers;

    [Benchmark(Baseline = true)]
    public void Float32() =>
        DecodeAttention.Compute(_query, 1, _float32[NextLayer()].View, _scale, _context, [], KernelVariants.Best);

    [Benchmark]
    public void BFloat16() =>
        DecodeAttention.Compute(_query, 1, _bfloat16[NextLayer()].View, _scale, _context, [], KernelVariants.Best);

    [Benchmark]
    public void Float16() =>
        DecodeAttention.Compute(_query, 1, _float16[NextLayer()].View, _scale, _context, [], KernelVariants.Best);
}
