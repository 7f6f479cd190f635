using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

public class PackedLinearTests
{
    public static TheoryData<KernelVariant, int> VariantsAndThreads()
    {
        var data = new TheoryData<KernelVariant, int>();
        foreach (var variant in KernelVariants.Supported)
        {
            data.Add(variant, 1);
            data.Add(variant, 2);
        }
        return data;
    }

    private static readonly int[] SmallRows = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17];
    private static readonly int[] Features = [1, 2, 3, 7, 16, 31, 32, 33, 63, 64, 65, 100, 130];

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void SmallShapesMatchTheReference(KernelVariant variant, int maxThreads)
    {
        var random = new Random(17);
        foreach (int rows in SmallRows)
        foreach (int inFeatures in Features)
        {
            // Out sizes cycle so every (rows, in) pair meets a different panel tail.
            int outFeatures = Features[(rows * 7 + inFeatures) % Features.Length];
            AssertMatchesReference(random, rows, inFeatures, outFeatures, withBias: (rows + inFeatures) % 2 == 0, variant, maxThreads);
        }
    }

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void EveryPanelTailMatchesTheReference(KernelVariant variant, int maxThreads)
    {
        var random = new Random(5);
        for (int outFeatures = 1; outFeatures <= 130; outFeatures++)
            AssertMatchesReference(random, rows: outFeatures % 17 + 1, inFeatures: 9, outFeatures, withBias: outFeatures % 3 != 0, variant, maxThreads);
    }

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void LargeShapesMatchTheReference(KernelVariant variant, int maxThreads)
    {
        var random = new Random(3);
        // Several row chunks (96 rows) and depth blocks (512), ragged tails in every dimension.
        AssertMatchesReference(random, rows: 257, inFeatures: 130, outFeatures: 513, withBias: true, variant, maxThreads);
        AssertMatchesReference(random, rows: 100, inFeatures: 600, outFeatures: 300, withBias: false, variant, maxThreads);
        AssertMatchesReference(random, rows: 200, inFeatures: 513, outFeatures: 96, withBias: true, variant, maxThreads);
        AssertMatchesReference(random, rows: 1, inFeatures: 512, outFeatures: 512, withBias: true, variant, maxThreads);
        AssertMatchesReference(random, rows: 8, inFeatures: 520, outFeatures: 700, withBias: true, variant, maxThreads);
        AssertMatchesReference(random, rows: 25, inFeatures: 1100, outFeatures: 40, withBias: false, variant, maxThreads);
    }

    public static TheoryData<KernelVariant, int, KeyValueElementType> VariantsThreadsAndWeightsTypes()
    {
        var data = new TheoryData<KernelVariant, int, KeyValueElementType>();
        foreach (var variant in KernelVariants.Supported)
        foreach (int threads in new[] { 1, 2 })
        foreach (var type in new[] { KeyValueElementType.Float32, KeyValueElementType.Float16, KeyValueElementType.BFloat16 })
            data.Add(variant, threads, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(VariantsThreadsAndWeightsTypes))]
    public void ARowGetsTheSameBitsWhateverTheBatchItIsIn(KernelVariant variant, int maxThreads, KeyValueElementType weightsType)
    {
        // Batches from 1 row (x read in place, one depth pass) to 30 (x packed, two depth blocks of 512 and a tail):
        // every tile height and row position of the variant, and a panel tail (out 70). 16-bit weights take the
        // in-register route up to 12 rows and the widened-block route beyond. A single row goes through the
        // multi-panel kernel where whole groups of full panels exist (out 300: 9 full panels and a tail; out 256:
        // groups only), so its chains must match the tiles'.
        foreach (int outFeatures in new[] { 70, 300, 256 })
            AssertRowsMatchAlone(variant, maxThreads, weightsType, outFeatures);
    }

    private static void AssertRowsMatchAlone(KernelVariant variant, int maxThreads, KeyValueElementType weightsType, int outFeatures)
    {
        const int inFeatures = 1100, maxRows = 30;
        var random = new Random(11);
        float[] x = RandomValues(random, maxRows * inFeatures);
        var linear = PackedLinear.Pack(RandomValues(random, outFeatures * inFeatures), outFeatures, inFeatures,
            RandomValues(random, outFeatures), weightsType);

        var alone = new float[maxRows * outFeatures];
        for (int r = 0; r < maxRows; r++)
            linear.Apply(x.AsSpan(r * inFeatures, inFeatures), 1, alone.AsSpan(r * outFeatures, outFeatures), variant, maxThreads);

        for (int rows = 2; rows <= maxRows; rows++)
        {
            var batch = new float[rows * outFeatures];
            linear.Apply(x, rows, batch, variant, maxThreads);
            for (int i = 0; i < batch.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(batch[i]) != BitConverter.SingleToInt32Bits(alone[i]))
                    Assert.Fail($"y[{i / outFeatures}, {i % outFeatures}] = {batch[i]} in a batch of {rows}, {alone[i]} alone ({weightsType}, out {outFeatures}).");
            }
        }
    }

    [Fact]
    public void DefaultVariantMatchesTheReferenceAndLeavesTheRestOfYAlone()
    {
        var random = new Random(9);
        const int rows = 5, inFeatures = 40, outFeatures = 37;
        float[] x = RandomValues(random, rows * inFeatures);
        float[] weight = RandomValues(random, outFeatures * inFeatures);
        float[] bias = RandomValues(random, outFeatures);
        var linear = PackedLinear.Pack(weight, outFeatures, inFeatures, bias);
        var y = new float[rows * outFeatures + 3];
        y.AsSpan(rows * outFeatures).Fill(42f);
        linear.Apply(x, rows, y);

        var expected = new float[rows * outFeatures];
        LinearReference.Apply(x, rows, inFeatures, weight, outFeatures, bias, expected);
        AssertClose(x, weight, rows, inFeatures, outFeatures, expected, y);
        Assert.All(y[(rows * outFeatures)..], v => Assert.Equal(42f, v));
    }

    [Fact]
    public void PackReportsShapeAndBytes()
    {
        var withBias = PackedLinear.Pack(new float[70 * 9], 70, 9, new float[70]);
        Assert.Equal(70, withBias.OutFeatures);
        Assert.Equal(9, withBias.InFeatures);
        Assert.True(withBias.HasBias);
        // Three zero-padded panels of 32 columns over 9 inputs, plus the bias, plus alignment slack.
        Assert.InRange(withBias.Bytes, 4L * (96 * 9 + 70), 4L * (96 * 9 + 96 + 64));

        var withoutBias = PackedLinear.Pack(new float[70 * 9], 70, 9, []);
        Assert.False(withoutBias.HasBias);
        Assert.True(withoutBias.Bytes < withBias.Bytes);
    }

    [Fact]
    public void PackRejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedLinear.Pack(new float[4], 0, 4, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedLinear.Pack(new float[4], 4, 0, []));
        Assert.Throws<ArgumentException>(() => PackedLinear.Pack(new float[11], 3, 4, []));
        Assert.Throws<ArgumentException>(() => PackedLinear.Pack(new float[12], 3, 4, new float[4]));
    }

    [Fact]
    public void ApplyRejectsShortBuffers()
    {
        var linear = PackedLinear.Pack(new float[12], 3, 4, []);
        Assert.Throws<ArgumentException>(() => linear.Apply(new float[7], 2, new float[6]));
        Assert.Throws<ArgumentException>(() => linear.Apply(new float[8], 2, new float[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.Apply(new float[8], -1, new float[6]));
    }

    private static void AssertMatchesReference(Random random, int rows, int inFeatures, int outFeatures, bool withBias,
        KernelVariant variant, int maxThreads)
    {
        float[] x = RandomValues(random, rows * inFeatures);
        float[] weight = RandomValues(random, outFeatures * inFeatures);
        float[] bias = withBias ? RandomValues(random, outFeatures) : [];
        var linear = PackedLinear.Pack(weight, outFeatures, inFeatures, bias);

        var expected = new float[rows * outFeatures];
        LinearReference.Apply(x, rows, inFeatures, weight, outFeatures, bias, expected);
        var actual = new float[rows * outFeatures];
        actual.AsSpan().Fill(float.NaN); // every output must be written
        linear.Apply(x, rows, actual, variant, maxThreads);
        AssertClose(x, weight, rows, inFeatures, outFeatures, expected, actual);
    }

    internal static void AssertClose(float[] x, float[] weight, int rows, int inFeatures, int outFeatures,
        ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        for (int r = 0; r < rows; r++)
        for (int o = 0; o < outFeatures; o++)
        {
            // float32 accumulation error grows with the sum of |x·w| terms, not with the result.
            double magnitude = 1;
            for (int k = 0; k < inFeatures; k++) magnitude += Math.Abs((double)x[r * inFeatures + k] * weight[o * inFeatures + k]);
            double e = expected[r * outFeatures + o], a = actual[r * outFeatures + o];
            if (!(Math.Abs(e - a) <= 1e-5 * magnitude))
                Assert.Fail($"y[{r}, {o}] = {a}, expected {e} (rows {rows}, in {inFeatures}, out {outFeatures}).");
        }
    }

    internal static float[] RandomValues(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
