using System.Numerics.Tensors;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// float32 ↔ bfloat16 / float16: the references against independent definitions (the BCL's Half casts, nearest-value
/// search), then every vector width the CPU runs against the references, bit for bit (NaN payloads included).
/// </summary>
public class PrecisionConversionTests
{
    public static TheoryData<KernelVariant> Variants() => new(KernelVariants.Supported);

    // Odd, so the sweep meets both parities of every low bit; ≈ 1 M floats out of 2^32.
    private const long SweepStride = 4099;

    private static readonly uint[] NaNPatterns =
    [
        0x7FC00000, 0x7F800001, 0x7FA00000, 0x7FFFFFFF, 0x7F802000, 0x7F80FFFF, 0x7FBFFFFF, 0x7FC12345, 0x7F810000,
    ];

    private static readonly Lazy<float[]> Interesting = new(BuildInterestingFloats);
    private static readonly Lazy<float[]> Sweep = new(BuildSweep);

    // ---- references against independent definitions ----

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)]  // 1
    [InlineData(0x3F808000u, (ushort)0x3F80)]  // tie, kept half even: stays
    [InlineData(0x3F818000u, (ushort)0x3F82)]  // tie, kept half odd: up to even
    [InlineData(0x3F807FFFu, (ushort)0x3F80)]  // just below the tie
    [InlineData(0x3F808001u, (ushort)0x3F81)]  // just above the tie
    [InlineData(0xBF818000u, (ushort)0xBF82)]  // negative tie rounds in magnitude
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)]  // just below the overflow tie: largest finite bfloat16
    [InlineData(0x7F7F8000u, (ushort)0x7F80)]  // the overflow tie (odd kept half): Inf
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)]  // float.MaxValue: Inf
    [InlineData(0xFF7FFFFFu, (ushort)0xFF80)]  // -float.MaxValue: -Inf
    [InlineData(0x7F7E8000u, (ushort)0x7F7E)]  // tie below the top, even: stays finite
    [InlineData(0x7F800000u, (ushort)0x7F80)]  // Inf
    [InlineData(0xFF800000u, (ushort)0xFF80)]  // -Inf
    [InlineData(0x00000000u, (ushort)0x0000)]  // 0
    [InlineData(0x80000000u, (ushort)0x8000)]  // -0
    [InlineData(0x00000001u, (ushort)0x0000)]  // smallest float32 subnormal
    [InlineData(0x80008000u, (ushort)0x8000)]  // subnormal tie, even: -0
    [InlineData(0x00018000u, (ushort)0x0002)]  // subnormal tie, odd: up
    [InlineData(0x007FFFFFu, (ushort)0x0080)]  // largest float32 subnormal rounds up to the smallest normal
    [InlineData(0x00010000u, (ushort)0x0001)]  // smallest bfloat16 subnormal, exact
    [InlineData(0x7FC00000u, (ushort)0x7FC0)]  // quiet NaN
    [InlineData(0x7F800001u, (ushort)0x7FC0)]  // signalling NaN with only a low payload bit: stays NaN, quiet
    [InlineData(0xFF800001u, (ushort)0xFFC0)]  // the same, negative
    [InlineData(0x7FA00000u, (ushort)0x7FE0)]  // signalling NaN: top payload kept, quiet bit set
    [InlineData(0xFFFFFFFFu, (ushort)0xFFFF)]  // all ones: a NaN, rounding must not carry
    public void BFloat16ReferenceGivesTheExpectedBits(uint floatBits, ushort expected)
    {
        float value = BitConverter.UInt32BitsToSingle(floatBits);
        Assert.Equal(expected, BFloat16Narrowing.NarrowReference(value));
        Assert.Equal(expected, BFloat16NarrowingRule.Narrow(value));
    }

    [Fact]
    public void BFloat16ReferenceIsTheNearestValueTiesToEven()
    {
        foreach (float value in Interesting.Value.Concat(Sweep.Value))
        {
            if (float.IsNaN(value)) continue;
            ushort bits = BFloat16Narrowing.NarrowReference(value);
            // Neighbours one step either side in magnitude; Inf counts as 2^128, the next step above the largest finite.
            ushort magnitude = (ushort)(bits & 0x7FFF);
            double distance = Math.Abs(value - BFloat16Magnitude(magnitude, bits));
            if (magnitude > 0)
                AssertNotCloser(value, bits, (ushort)(bits - 1), distance);
            if (magnitude < 0x7F80)
                AssertNotCloser(value, bits, (ushort)(bits + 1), distance);
        }

        static double BFloat16Magnitude(ushort magnitude, ushort bits) =>
            (magnitude == 0x7F80 ? Math.Pow(2, 128) : BFloat16Widening.WidenReference(magnitude)) * ((bits & 0x8000) != 0 ? -1 : 1);

        static void AssertNotCloser(float value, ushort chosen, ushort neighbour, double distance)
        {
            double other = Math.Abs(value - BFloat16Magnitude((ushort)(neighbour & 0x7FFF), neighbour));
            bool ok = other > distance || (other == distance && (chosen & 1) == 0);
            if (!ok) Assert.Fail($"{BitConverter.SingleToUInt32Bits(value):X8} → {chosen:X4}, but {neighbour:X4} is as close or closer");
        }
    }

    [Fact]
    public void Float16NarrowingReferenceMatchesTheHalfCast()
    {
        foreach (float value in Interesting.Value.Concat(Sweep.Value))
            AssertBits(BitConverter.HalfToUInt16Bits((Half)value), Float16Narrowing.NarrowReference(value), value);
    }

    [Fact]
    public void Float16WideningReferenceMatchesTheHalfCastForEveryPattern()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            uint expected = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)bits));
            if (BitConverter.SingleToUInt32Bits(Float16Widening.WidenReference((ushort)bits)) != expected)
                Assert.Fail($"reference: {bits:X4} should widen to {expected:X8}");
            if (BitConverter.SingleToUInt32Bits(Float16WideningRule.Widen((ushort)bits)) != expected)
                Assert.Fail($"scalar rule: {bits:X4} should widen to {expected:X8}");
        }
    }

    [Fact]
    public void Float16ScalarRuleMatchesTheReference()
    {
        foreach (float value in Interesting.Value.Concat(Sweep.Value))
            AssertBits(Float16Narrowing.NarrowReference(value), Float16NarrowingRule.Narrow(value), value);
    }

    [Fact]
    public void BFloat16WideningIsTheUpperHalf()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
            if (BitConverter.SingleToUInt32Bits(BFloat16Widening.WidenReference((ushort)bits)) != (uint)bits << 16)
                Assert.Fail($"{bits:X4} does not widen to {(uint)bits << 16:X8}");
    }

    [Fact]
    public void TensorPrimitivesHalfConversionsAreExact()
    {
        // Recorded so the choice of the hand-written paths stays a speed question, not an accuracy one.
        float[] floats = [.. Interesting.Value, .. Sweep.Value];
        var halves = new Half[floats.Length];
        TensorPrimitives.ConvertToHalf(floats, halves);
        for (int i = 0; i < floats.Length; i++)
            AssertBits(Float16Narrowing.NarrowReference(floats[i]), BitConverter.HalfToUInt16Bits(halves[i]), floats[i]);

        var everyHalf = new Half[65536];
        for (int bits = 0; bits < everyHalf.Length; bits++) everyHalf[bits] = BitConverter.UInt16BitsToHalf((ushort)bits);
        var widened = new float[everyHalf.Length];
        TensorPrimitives.ConvertToSingle(everyHalf, widened);
        for (int bits = 0; bits < everyHalf.Length; bits++)
            if (BitConverter.SingleToUInt32Bits(Float16Widening.WidenReference((ushort)bits)) != BitConverter.SingleToUInt32Bits(widened[bits]))
                Assert.Fail($"ConvertToSingle differs at {bits:X4}");
    }

    // ---- every variant against the references ----

    [Theory]
    [MemberData(nameof(Variants))]
    public void BFloat16NarrowingMatchesTheReference(KernelVariant variant) =>
        AssertNarrowing(variant, BFloat16Narrowing.Narrow, BFloat16Narrowing.NarrowReference);

    [Theory]
    [MemberData(nameof(Variants))]
    public void Float16NarrowingMatchesTheReference(KernelVariant variant) =>
        AssertNarrowing(variant, Float16Narrowing.Narrow, Float16Narrowing.NarrowReference);

    [Theory]
    [MemberData(nameof(Variants))]
    public void BFloat16WideningMatchesTheReferenceForEveryPattern(KernelVariant variant) =>
        AssertWidening(variant, BFloat16Widening.Widen, BFloat16Widening.WidenReference);

    [Theory]
    [MemberData(nameof(Variants))]
    public void Float16WideningMatchesTheReferenceForEveryPattern(KernelVariant variant) =>
        AssertWidening(variant, Float16Widening.Widen, Float16Widening.WidenReference);

    [Theory]
    [MemberData(nameof(Variants))]
    public void EveryLengthAndOffsetConvertsExactlyItsElements(KernelVariant variant)
    {
        var random = new Random(41 + (int)variant);
        float[] interesting = Interesting.Value;
        for (int length = 0; length <= 70; length++)
            for (int offset = 0; offset < 3; offset++)
            {
                // Specials mixed with ordinary values, so a tail lane and a vector lane both meet each kind.
                var floats = new float[offset + length];
                for (int i = 0; i < floats.Length; i++)
                    floats[i] = random.Next(3) == 0 ? interesting[random.Next(interesting.Length)] : (float)(random.NextDouble() * 8 - 4);
                var narrowSource = new ArraySegment<float>(floats, offset, length);
                var patterns = new ushort[offset + length];
                for (int i = 0; i < patterns.Length; i++) patterns[i] = (ushort)random.Next(65536);
                var halfBits = new ArraySegment<ushort>(patterns, offset, length);

                AssertTail(length, d => BFloat16Narrowing.Narrow(narrowSource, d, variant), i => BFloat16Narrowing.NarrowReference(narrowSource[i]));
                AssertTail(length, d => Float16Narrowing.Narrow(narrowSource, d, variant), i => Float16Narrowing.NarrowReference(narrowSource[i]));
                AssertTail(length, d => BFloat16Widening.Widen(halfBits, d, variant), i => BFloat16Widening.WidenReference(halfBits[i]));
                AssertTail(length, d => Float16Widening.Widen(halfBits, d, variant), i => Float16Widening.WidenReference(halfBits[i]));
            }
    }

    [Fact]
    public void ShortDestinationIsRejected()
    {
        Assert.Throws<ArgumentException>(() => BFloat16Narrowing.Narrow(new float[5], new ushort[4]));
        Assert.Throws<ArgumentException>(() => Float16Narrowing.Narrow(new float[40], new ushort[39]));
        Assert.Throws<ArgumentException>(() => BFloat16Widening.Widen(new ushort[5], new float[4]));
        Assert.Throws<ArgumentException>(() => Float16Widening.Widen(new ushort[40], new float[39]));
    }

    // ---- helpers ----

    private delegate void Narrowing(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant);
    private delegate void Widening(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant);

    private static void AssertNarrowing(KernelVariant variant, Narrowing narrow, Func<float, ushort> reference)
    {
        float[] floats = [.. Interesting.Value, .. Sweep.Value];
        var actual = new ushort[floats.Length];
        narrow(floats, actual, variant);
        for (int i = 0; i < floats.Length; i++) AssertBits(reference(floats[i]), actual[i], floats[i]);
    }

    private static void AssertWidening(KernelVariant variant, Widening widen, Func<ushort, float> reference)
    {
        var everyPattern = new ushort[65536 + 5]; // + a few so the tail meets patterns too
        for (int i = 0; i < everyPattern.Length; i++) everyPattern[i] = (ushort)(i * 40503); // odd multiplier: a permutation
        var actual = new float[everyPattern.Length];
        widen(everyPattern, actual, variant);
        for (int i = 0; i < everyPattern.Length; i++)
        {
            uint expected = BitConverter.SingleToUInt32Bits(reference(everyPattern[i]));
            uint got = BitConverter.SingleToUInt32Bits(actual[i]);
            if (expected != got) Assert.Fail($"{everyPattern[i]:X4} → {got:X8}, reference {expected:X8}");
        }
    }

    private static void AssertTail<T>(int length, Action<T[]> convert, Func<int, T> reference) where T : unmanaged
    {
        // One element more than asked for, holding a sentinel that must survive.
        var destination = new T[length + 1];
        T sentinel = typeof(T) == typeof(float) ? (T)(object)123.25f : (T)(object)(ushort)0xABCD;
        destination[length] = sentinel;
        convert(destination);
        for (int i = 0; i < length; i++) Assert.Equal(reference(i), destination[i]);
        Assert.Equal(sentinel, destination[length]);
    }

    // Formats a message only on failure: these run over millions of values.
    private static void AssertBits(ushort expected, ushort actual, float value)
    {
        if (expected != actual) Assert.Fail($"{BitConverter.SingleToUInt32Bits(value):X8} → {actual:X4}, expected {expected:X4}");
    }

    private static float[] BuildSweep()
    {
        var floats = new List<float>((int)(0x1_0000_0000L / SweepStride) + 1);
        for (long bits = 0; bits <= uint.MaxValue; bits += SweepStride) floats.Add(BitConverter.UInt32BitsToSingle((uint)bits));
        return [.. floats];
    }

    /// <summary>
    /// Every bfloat16 and float16 value, the exact ties between neighbours and the floats one ulp either side of each,
    /// NaNs with several payloads and both signs, ±0, ±Inf, float32 subnormals and the values around both overflows.
    /// </summary>
    private static float[] BuildInterestingFloats()
    {
        var bits = new List<uint>();
        foreach (uint nan in NaNPatterns) { bits.Add(nan); bits.Add(nan | 0x80000000); }
        bits.AddRange([0, 0x80000000, 0x7F800000, 0xFF800000, 1, 2, 3, 0x8000, 0x8001, 0x18000, 0x400000, 0x7FFFFF, 0x800000, 0x7F7FFFFF]);
        for (uint upper = 0; upper <= 0xFFFF; upper++)
        {
            uint value = upper << 16;
            // The bfloat16 value itself, its tie with the next one, and one ulp either side of both.
            bits.AddRange([value, value | 1, value | 0x7FFF, value | 0x8000, value | 0x8001, value | 0xFFFF]);
        }
        for (int half = 0; half <= 0x7BFF; half++)
        {
            // The float16 value, the tie with the next one up (exact in float32), and one ulp either side of both.
            uint value = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)half));
            double next = half == 0x7BFF ? 65536.0 : (double)BitConverter.UInt16BitsToHalf((ushort)(half + 1));
            uint tie = BitConverter.SingleToUInt32Bits((float)(((double)BitConverter.UInt16BitsToHalf((ushort)half) + next) / 2));
            foreach (uint b in new[] { value, value + 1, value - 1, tie, tie + 1, tie - 1 })
            {
                bits.Add(b);
                bits.Add(b | 0x80000000);
            }
        }
        // Around the float16 overflow: 65504 is the largest, 65520 the tie that goes to Inf.
        foreach (float value in new[] { 65504f, 65519.996f, 65520f, 65520.004f, 65535f, 65536f, 1e6f, float.MaxValue })
        {
            bits.Add(BitConverter.SingleToUInt32Bits(value));
            bits.Add(BitConverter.SingleToUInt32Bits(-value));
        }
        return bits.Select(BitConverter.UInt32BitsToSingle).ToArray();
    }
}
