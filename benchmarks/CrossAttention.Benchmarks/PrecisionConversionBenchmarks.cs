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
/// One decode step's attention at whisper-base shape (m = 1500, 8 heads × 64, one query) over float32 K/V (the
/// production kernel and cache) and over float32 / bfloat16 / float16 K/V through the narrow prototype. Each call
/// takes the next of 12 layers, so K/V (72 MiB at float32, 36 MiB narrow) mostly comes from DRAM, as in a cold step.
/// </summary>
public class NarrowDecodeAttentionBenchmarks
{
    private const int Layers = 12, SourceLength = 1500, Heads = 8, HeadDim = 64;
    private const int Tiles = (SourceLength + 15) / 16;
    private readonly float _scale = 1f / MathF.Sqrt(HeadDim);
    private float[] _query = [];
    private float[] _context = [];
    private float[] _keep = [];
    private CrossAttention.Core.Caching.KeyValueCache[] _caches = [];
    private (float[] Keys, float[] Values)[] _float32 = [];
    private (ushort[] Keys, ushort[] Values)[] _bfloat16 = [];
    private (ushort[] Keys, ushort[] Values)[] _float16 = [];
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
        _keep = new float[Tiles * 16];
        for (int j = 0; j < SourceLength; j++) _keep[j] = BitConverter.UInt32BitsToSingle(uint.MaxValue);
        _caches = new CrossAttention.Core.Caching.KeyValueCache[Layers];
        _float32 = new (float[], float[])[Layers];
        _bfloat16 = new (ushort[], ushort[])[Layers];
        _float16 = new (ushort[], ushort[])[Layers];
        for (int layer = 0; layer < Layers; layer++)
        {
            float[] keys = Fill(SourceLength * Heads * HeadDim), values = Fill(SourceLength * Heads * HeadDim); // [m, heads·headDim]
            _caches[layer] = CrossAttention.Core.Caching.KeyValueCache.Create(keys, values, SourceLength, Heads, HeadDim, []);
            float[] keyTiles = new float[Heads * Tiles * HeadDim * 16];
            float[] valueRows = new float[Heads * SourceLength * HeadDim];
            for (int h = 0; h < Heads; h++)
                for (int j = 0; j < SourceLength; j++)
                    for (int d = 0; d < HeadDim; d++)
                    {
                        float k = keys[(j * Heads + h) * HeadDim + d];
                        keyTiles[((h * Tiles + j / 16) * HeadDim + d) * 16 + j % 16] = k;
                        valueRows[(h * SourceLength + j) * HeadDim + d] = values[(j * Heads + h) * HeadDim + d];
                    }
            _float32[layer] = (keyTiles, valueRows);
            _bfloat16[layer] = (new ushort[keyTiles.Length], new ushort[valueRows.Length]);
            BFloat16Narrowing.Narrow(keyTiles, _bfloat16[layer].Keys);
            BFloat16Narrowing.Narrow(valueRows, _bfloat16[layer].Values);
            _float16[layer] = (new ushort[keyTiles.Length], new ushort[valueRows.Length]);
            Float16Narrowing.Narrow(keyTiles, _float16[layer].Keys);
            Float16Narrowing.Narrow(valueRows, _float16[layer].Values);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var cache in _caches) cache.Dispose();
    }

    private int NextLayer() => _layer = (_layer + 1) % Layers;

    [Benchmark(Baseline = true)]
    public void Float32Production() =>
        DecodeAttention.Compute(_query, 1, _caches[NextLayer()].View, _scale, _context, [], KernelVariants.Best);

    [Benchmark]
    public void Float32Narrow()
    {
        var (keys, values) = _float32[NextLayer()];
        DecodeAttentionNarrow.Compute<Float32Element, float>(_query, 1, keys, values, _keep, Heads, SourceLength, HeadDim, _scale, _context, [], KernelVariants.Best);
    }

    [Benchmark]
    public void BFloat16Narrow()
    {
        var (keys, values) = _bfloat16[NextLayer()];
        DecodeAttentionNarrow.Compute<BFloat16Element, ushort>(_query, 1, keys, values, _keep, Heads, SourceLength, HeadDim, _scale, _context, [], KernelVariants.Best);
    }

    [Benchmark]
    public void Float16Narrow()
    {
        var (keys, values) = _float16[NextLayer()];
        DecodeAttentionNarrow.Compute<Float16Element, ushort>(_query, 1, keys, values, _keep, Heads, SourceLength, HeadDim, _scale, _context, [], KernelVariants.Best);
    }
}
