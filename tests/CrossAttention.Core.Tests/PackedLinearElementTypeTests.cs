using CrossAttention.Core.Kernels;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Weights stored as float16 or bfloat16: every variant the CPU supports, both routes (narrow panels widened in
/// registers for ≤ 12 rows, a widened float32 block for more), against the plain reference over the rounded weights.
/// (That a row's bits do not depend on its batch, for every weights type, is in <see cref="PackedLinearTests"/>.)
/// </summary>
public class PackedLinearElementTypeTests
{
    public static TheoryData<KernelVariant, int, KeyValueElementType> VariantsThreadsAndTypes()
    {
        var data = new TheoryData<KernelVariant, int, KeyValueElementType>();
        foreach (var variant in KernelVariants.Supported)
        foreach (int threads in new[] { 1, 2 })
        foreach (var type in new[] { KeyValueElementType.Float16, KeyValueElementType.BFloat16 })
            data.Add(variant, threads, type);
        return data;
    }

    // (rows, in, out): decode-sized rows on the in-register route, more than 12 on the widened-block route, several row
    // chunks (96) and depth blocks (512), and ragged panel tails.
    private static readonly (int Rows, int In, int Out)[] Shapes =
    [
        (1, 1, 1), (1, 64, 64), (3, 31, 33), (8, 520, 700), (12, 65, 100), (13, 7, 130),
        (25, 1100, 40), (100, 600, 300), (257, 130, 513),
    ];

    [Theory]
    [MemberData(nameof(VariantsThreadsAndTypes))]
    public void NarrowWeightsGiveTheFloat32ProductOfTheirRoundedValuesBitForBit(KernelVariant variant, int maxThreads,
        KeyValueElementType type)
    {
        var random = new Random(23);
        foreach (var (rows, inFeatures, outFeatures) in Shapes)
        {
            float[] x = PackedLinearTests.RandomValues(random, rows * inFeatures);
            float[] weight = PackedLinearTests.RandomValues(random, outFeatures * inFeatures);
            float[] bias = rows % 2 == 0 ? PackedLinearTests.RandomValues(random, outFeatures) : [];
            float[] rounded = Precision.RoundTrip(weight, DTypeName(type));

            var narrow = PackedLinear.Pack(weight, outFeatures, inFeatures, bias, type);
            var wide = PackedLinear.Pack(rounded, outFeatures, inFeatures, bias);
            Assert.Equal(type, narrow.ElementType);
            var actual = new float[rows * outFeatures];
            actual.AsSpan().Fill(float.NaN); // every output must be written
            narrow.Apply(x, rows, actual, variant, maxThreads);
            var fromWide = new float[rows * outFeatures];
            wide.Apply(x, rows, fromWide, variant, maxThreads);

            // Widening is exact and the order of the multiply-adds is the float32 kernel's: the same bits.
            for (int i = 0; i < actual.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(fromWide[i]))
                    Assert.Fail($"y[{i / outFeatures}, {i % outFeatures}] = {actual[i]}, float32 over the rounded weights gives " +
                        $"{fromWide[i]} ({type}, rows {rows}, in {inFeatures}, out {outFeatures}).");
            }

            // And both are the product the plain reference computes over the rounded weights.
            var expected = new float[rows * outFeatures];
            LinearReference.Apply(x, rows, inFeatures, rounded, outFeatures, bias, expected);
            PackedLinearTests.AssertClose(x, rounded, rows, inFeatures, outFeatures, expected, actual);
        }
    }

    [Theory]
    [InlineData(KeyValueElementType.Float16)]
    [InlineData(KeyValueElementType.BFloat16)]
    public void SixteenBitPatternsPackAsTheyAreAndMatchPackingFromFloats(KeyValueElementType type)
    {
        const int rows = 5, inFeatures = 70, outFeatures = 45;
        var random = new Random(31);
        float[] x = PackedLinearTests.RandomValues(random, rows * inFeatures);
        float[] weight = PackedLinearTests.RandomValues(random, outFeatures * inFeatures);
        float[] bias = PackedLinearTests.RandomValues(random, outFeatures);
        ushort[] bits = type == KeyValueElementType.BFloat16
            ? weight.Select(Precision.ToBFloat16Bits).ToArray()
            : weight.Select(w => BitConverter.HalfToUInt16Bits((Half)w)).ToArray();

        var fromBits = PackedLinear.Pack(bits, type, outFeatures, inFeatures, bias);
        var fromFloats = PackedLinear.Pack(weight, outFeatures, inFeatures, bias, type);
        var a = new float[rows * outFeatures];
        var b = new float[rows * outFeatures];
        fromBits.Apply(x, rows, a);
        fromFloats.Apply(x, rows, b);
        Assert.Equal(b, a);
        Assert.Equal(type, fromBits.ElementType);
        Assert.Equal(fromFloats.Bytes, fromBits.Bytes);
    }

    [Fact]
    public void NarrowWeightsTakeHalfTheBytes()
    {
        var weight = new float[96 * 64];
        long float32 = PackedLinear.Pack(weight, 96, 64, []).Bytes;
        long bfloat16 = PackedLinear.Pack(weight, 96, 64, [], KeyValueElementType.BFloat16).Bytes;
        long float16 = PackedLinear.Pack(weight, 96, 64, [], KeyValueElementType.Float16).Bytes;
        // Three full panels over 64 inputs, plus up to 64 bytes of alignment slack.
        Assert.InRange(float32, 4L * 96 * 64, 4L * 96 * 64 + 64);
        Assert.InRange(bfloat16, 2L * 96 * 64, 2L * 96 * 64 + 64);
        Assert.Equal(bfloat16, float16);
    }

    [Fact]
    public void SixteenBitPatternsMustBeFloat16OrBFloat16()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            PackedLinear.Pack(new ushort[12], KeyValueElementType.Float32, 3, 4, []));
        Assert.Throws<ArgumentException>(() => PackedLinear.Pack(new ushort[11], KeyValueElementType.BFloat16, 3, 4, []));
    }

    [Fact]
    public void Float16WeightsMustBeFiniteAsFloat16()
    {
        float[] weight = new float[12];
        weight[5] = 65520f; // rounds to float16 infinity
        Assert.Throws<ArgumentException>(() => PackedLinear.Pack(weight, 3, 4, [], KeyValueElementType.Float16));
        Assert.Equal(KeyValueElementType.BFloat16, PackedLinear.Pack(weight, 3, 4, [], KeyValueElementType.BFloat16).ElementType);
        weight[5] = 65504f; // float16's largest
        Assert.Equal(KeyValueElementType.Float16, PackedLinear.Pack(weight, 3, 4, [], KeyValueElementType.Float16).ElementType);

        ushort[] bits = new ushort[12];
        bits[7] = 0x7E00; // NaN
        Assert.Throws<ArgumentException>(() => PackedLinear.Pack(bits, KeyValueElementType.Float16, 3, 4, []));
        Assert.Equal(KeyValueElementType.BFloat16, PackedLinear.Pack(new ushort[12], KeyValueElementType.BFloat16, 3, 4, []).ElementType);
    }

    private static string DTypeName(KeyValueElementType type) => type == KeyValueElementType.BFloat16 ? "BF16" : "F16";
}
