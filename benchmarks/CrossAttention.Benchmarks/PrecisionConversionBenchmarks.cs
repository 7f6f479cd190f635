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
