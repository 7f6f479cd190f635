using System.Runtime.Intrinsics;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>The widened K/V loads of every storage type and vector width against the scalar conversions, bit for bit.</summary>
public unsafe class KeyValueElementTests
{
    public static TheoryData<KernelVariant> VectorVariants() =>
        new(KernelVariants.Supported.Where(variant => variant != KernelVariant.Scalar));

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void BFloat16LoadsWidenEveryPatternLikeTheReference(KernelVariant variant) =>
        AssertLoadsMatch<BFloat16Element, ushort>(variant, EveryPattern(), BFloat16Widening.WidenReference);

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void Float16LoadsWidenEveryPatternLikeTheReference(KernelVariant variant) =>
        AssertLoadsMatch<Float16Element, ushort>(variant, EveryPattern(), Float16Widening.WidenReference);

    /// <summary>The weights' float16 loads (finite values only: packing refuses the rest).</summary>
    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void FiniteFloat16LoadsWidenEveryFinitePatternLikeTheReference(KernelVariant variant) =>
        AssertLoadsMatch<FiniteFloat16Element, ushort>(variant, EveryPattern().Where(FiniteFloat16Element.IsFinite).ToArray(),
            Float16Widening.WidenReference);

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void Float32LoadsReturnTheStoredValues(KernelVariant variant)
    {
        var random = new Random(3);
        var values = new float[1000];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 200 - 100);
        values[7] = float.NaN;
        values[8] = float.NegativeInfinity;
        AssertLoadsMatch<Float32Element, float>(variant, values, v => v);
    }

    [Fact]
    public void ScalarConversionsAreTheReferences()
    {
        foreach (ushort bits in EveryPattern())
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits(BFloat16Widening.WidenReference(bits)), BitConverter.SingleToUInt32Bits(BFloat16Element.ToSingle(bits)));
            Assert.Equal(BitConverter.SingleToUInt32Bits(Float16Widening.WidenReference(bits)), BitConverter.SingleToUInt32Bits(Float16Element.ToSingle(bits)));
            if (FiniteFloat16Element.IsFinite(bits))
                Assert.Equal(BitConverter.SingleToUInt32Bits(Float16Widening.WidenReference(bits)), BitConverter.SingleToUInt32Bits(FiniteFloat16Element.ToSingle(bits)));
            Assert.Equal(((bits >> 10) & 0x1F) != 0x1F, FiniteFloat16Element.IsFinite(bits));
        }
        var random = new Random(8);
        for (int i = 0; i < 20_000; i++)
        {
            float value = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            Assert.Equal(BFloat16Narrowing.NarrowReference(value), BFloat16Element.FromSingle(value));
            Assert.Equal(Float16Narrowing.NarrowReference(value), Float16Element.FromSingle(value));
            Assert.Equal(BitConverter.SingleToUInt32Bits(value), BitConverter.SingleToUInt32Bits(Float32Element.FromSingle(value)));
        }
    }

    [Theory]
    [MemberData(nameof(VectorVariants))]
    public void BulkNarrowingOfEachElementMatchesItsScalarForm(KernelVariant variant)
    {
        var random = new Random(21);
        var values = new float[333];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 1e5 - 5e4) / (1 << random.Next(30));
        AssertNarrow<BFloat16Element, ushort>(values, variant);
        AssertNarrow<Float16Element, ushort>(values, variant);
        AssertNarrow<Float32Element, float>(values, variant);

        static void AssertNarrow<TElement, TStorage>(float[] values, KernelVariant variant)
            where TElement : struct, IKeyValueElement<TStorage> where TStorage : unmanaged
        {
            var stored = new TStorage[values.Length];
            TElement.Narrow(values, stored, variant);
            for (int i = 0; i < values.Length; i++) Assert.Equal(TElement.FromSingle(values[i]), stored[i]);
        }
    }

    [Fact]
    public void ElementSizesAreTheStoredBytes()
    {
        Assert.Equal(4, Size<Float32Element, float>());
        Assert.Equal(2, Size<BFloat16Element, ushort>());
        Assert.Equal(2, Size<Float16Element, ushort>());

        static int Size<TElement, TStorage>() where TElement : struct, IKeyValueElement<TStorage> where TStorage : unmanaged =>
            TElement.Size;
    }

    [Fact]
    public void PortableZeroExtendingLoadsMatchTheInstructionSetOnes()
    {
        ushort[] patterns = EveryPattern();
        fixed (ushort* p = patterns)
            for (int offset = 0; offset + 16 <= patterns.Length; offset += 7)
            {
                if (Vector512.IsHardwareAccelerated) Assert.Equal(ZeroExtendingLoad.Load512(p + offset), ZeroExtendingLoad.Load512Portable(p + offset));
                if (Vector256.IsHardwareAccelerated) Assert.Equal(ZeroExtendingLoad.Load256(p + offset), ZeroExtendingLoad.Load256Portable(p + offset));
                if (Vector128.IsHardwareAccelerated) Assert.Equal(ZeroExtendingLoad.Load128(p + offset), ZeroExtendingLoad.Load128Portable(p + offset));
                for (int lane = 0; lane < 4; lane++) Assert.Equal(patterns[offset + lane], ZeroExtendingLoad.Load128Portable(p + offset)[lane]);
            }
    }

    // Every 16-bit pattern once, in an order that puts unlike patterns side by side, and a few more for odd offsets.
    private static ushort[] EveryPattern()
    {
        var patterns = new ushort[65536 + 19];
        for (int i = 0; i < patterns.Length; i++) patterns[i] = (ushort)(i * 40503);
        return patterns;
    }

    // Loads at every offset (aligned or not) through both the width-specific member and the generic one a kernel
    // body calls, and compares each lane with the scalar conversion.
    private static void AssertLoadsMatch<TElement, TStorage>(KernelVariant variant, TStorage[] stored, Func<TStorage, float> reference)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        var expected = Array.ConvertAll(stored, v => BitConverter.SingleToUInt32Bits(reference(v)));
        int width = variant switch { KernelVariant.Vector512 => 16, KernelVariant.Vector256 => 8, _ => 4 };
        var lanes = new float[width];
        fixed (TStorage* source = stored)
            for (int offset = 0; offset + width <= stored.Length; offset += offset < 64 ? 1 : width)
            {
                Load<TElement, TStorage>(variant, source + offset, lanes, generic: false);
                AssertLanes(expected, offset, lanes);
                Load<TElement, TStorage>(variant, source + offset, lanes, generic: true);
                AssertLanes(expected, offset, lanes);
            }
    }

    private static void AssertLanes(uint[] expected, int offset, float[] lanes)
    {
        for (int lane = 0; lane < lanes.Length; lane++)
            if (BitConverter.SingleToUInt32Bits(lanes[lane]) != expected[offset + lane])
                Assert.Fail($"element {offset + lane}: {BitConverter.SingleToUInt32Bits(lanes[lane]):X8}, expected {expected[offset + lane]:X8}");
    }

    private static void Load<TElement, TStorage>(KernelVariant variant, TStorage* source, float[] lanes, bool generic)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        switch (variant)
        {
            case KernelVariant.Vector512:
                (generic ? KeyValueLoad.Widened<TElement, TStorage, Vector512<float>>(source) : TElement.LoadWidened512(source)).CopyTo(lanes);
                break;
            case KernelVariant.Vector256:
                (generic ? KeyValueLoad.Widened<TElement, TStorage, Vector256<float>>(source) : TElement.LoadWidened256(source)).CopyTo(lanes);
                break;
            default:
                (generic ? KeyValueLoad.Widened<TElement, TStorage, Vector128<float>>(source) : TElement.LoadWidened128(source)).CopyTo(lanes);
                break;
        }
    }
}
