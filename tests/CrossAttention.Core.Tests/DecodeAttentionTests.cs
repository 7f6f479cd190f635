using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

public class DecodeAttentionTests
{
    public enum MaskKind { None, Random, SingleKept, OnlyLastKept, LeadingPadding }

    public static TheoryData<KernelVariant, int> VariantsAndThreads()
    {
        var data = new TheoryData<KernelVariant, int>();
        foreach (var variant in KernelVariants.Supported)
            foreach (int threads in new[] { 1, 2 })
                data.Add(variant, threads);
        return data;
    }

    private static readonly int[] SourceLengths = [1, 2, 15, 16, 17, 31, 33, 100, 257, 300];
    private static readonly int[] HeadDims = [1, 3, 8, 16, 17, 33, 64, 80, 128];

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void MatchesReferenceOverShapes(KernelVariant variant, int maxThreads)
    {
        var random = new Random(1234 + (int)variant * 10 + maxThreads);
        foreach (int m in SourceLengths)
            foreach (int headDim in HeadDims)
            {
                int n = random.Next(1, 10);
                int heads = random.Next(1, 5);
                var maskKind = (MaskKind)random.Next(0, 5);
                bool withAttention = random.Next(2) == 0;
                AssertMatchesReference(variant, maxThreads, m, headDim, n, heads, maskKind, withAttention, random);
            }
    }

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void MatchesReferenceForEveryMaskKindAndQueryCount(KernelVariant variant, int maxThreads)
    {
        var random = new Random(99 + (int)variant * 10 + maxThreads);
        foreach (MaskKind maskKind in Enum.GetValues<MaskKind>())
            for (int n = 1; n <= 9; n++)
            {
                int m = SourceLengths[random.Next(SourceLengths.Length)];
                int headDim = HeadDims[random.Next(HeadDims.Length)];
                AssertMatchesReference(variant, maxThreads, m, headDim, n, heads: 2, maskKind,
                    withAttention: n % 2 == 1, random);
                AssertMatchesReference(variant, maxThreads, m, headDim, n, heads: 3, maskKind,
                    withAttention: n % 2 == 0, random);
            }
    }

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void MatchesReferenceAtModelShapes(KernelVariant variant, int maxThreads)
    {
        var random = new Random(7);
        AssertMatchesReference(variant, maxThreads, m: 300, headDim: 64, n: 8, heads: 16, MaskKind.Random, true, random);
        AssertMatchesReference(variant, maxThreads, m: 257, headDim: 96, n: 1, heads: 16, MaskKind.None, false, random);
        AssertMatchesReference(variant, maxThreads, m: 1500, headDim: 64, n: 1, heads: 8, MaskKind.None, true, random);
        AssertMatchesReference(variant, maxThreads, m: 100, headDim: 7, n: 5, heads: 4, MaskKind.Random, true, random);
        AssertMatchesReference(variant, maxThreads, m: 40, headDim: 100, n: 33, heads: 2, MaskKind.LeadingPadding, true, random);
    }

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void LargeScoresStayStable(KernelVariant variant, int maxThreads)
    {
        var random = new Random(5);
        AssertMatchesReference(variant, maxThreads, m: 77, headDim: 33, n: 3, heads: 2, MaskKind.Random, true, random,
            magnitude: 8f);
    }

    [Fact]
    public void ConcurrentCallersSharingTheWorkersGetTheirOwnResults()
    {
        const int m = 67, heads = 4, headDim = 24, n = 3;
        int inner = heads * headDim;
        var random = new Random(21);
        var cache = KeyValueCache.Create(RandomArray(random, m * inner, 1f), RandomArray(random, m * inner, 1f), m,
            heads, headDim, MakeMask(MaskKind.Random, m, random));
        var queries = Enumerable.Range(0, 4).Select(_ => RandomArray(random, n * inner, 1f)).ToArray();
        var expected = queries.Select(q =>
        {
            var context = new float[n * inner];
            DecodeAttention.Compute(q, n, cache.View, 0.5f, context, [], KernelVariants.Best, 1);
            return context;
        }).ToArray();

        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 4 }, call =>
        {
            int which = call % queries.Length;
            var context = new float[n * inner];
            var attention = new float[heads * n * m];
            DecodeAttention.Compute(queries[which], n, cache.View, 0.5f, context, attention, KernelVariants.Best, 2);
            Assert.Equal(expected[which], context);
        });
    }

    [Fact]
    public void AllPaddingCacheCannotBeCreated()
    {
        var k = new float[3 * 8];
        Assert.Throws<ArgumentException>(() => KeyValueCache.Create(k, k, 3, 2, 4, new byte[3]));
    }

    [Fact]
    public void CacheRoundTripsLogicalKeysAndValues()
    {
        var random = new Random(3);
        const int m = 37, heads = 3, headDim = 5;
        float[] keys = RandomArray(random, m * heads * headDim, 1f);
        float[] values = RandomArray(random, m * heads * headDim, 1f);
        var cache = KeyValueCache.Create(keys, values, m, heads, headDim, []);
        float[] logicalK = cache.LogicalKeys(), logicalV = cache.LogicalValues();
        for (int j = 0; j < m; j++)
            for (int h = 0; h < heads; h++)
                for (int d = 0; d < headDim; d++)
                {
                    Assert.Equal(keys[j * heads * headDim + h * headDim + d], logicalK[(h * m + j) * headDim + d]);
                    Assert.Equal(values[j * heads * headDim + h * headDim + d], logicalV[(h * m + j) * headDim + d]);
                }
        Assert.True(cache.Bytes >= 2L * sizeof(float) * m * heads * headDim);
    }

    private static void AssertMatchesReference(KernelVariant variant, int maxThreads, int m, int headDim, int n,
        int heads, MaskKind maskKind, bool withAttention, Random random, float magnitude = 1f)
    {
        int inner = heads * headDim;
        float[] keys = RandomArray(random, m * inner, magnitude);
        float[] values = RandomArray(random, m * inner, 1f);
        float[] queries = RandomArray(random, n * inner, magnitude);
        byte[] mask = MakeMask(maskKind, m, random);
        float scale = 1f / MathF.Sqrt(headDim);
        var cache = KeyValueCache.Create(keys, values, m, heads, headDim, mask);

        var expectedContext = new float[n * inner];
        var expectedAttention = new float[heads * n * m];
        AttentionReference.Compute(queries, n, cache.LogicalKeys(), cache.LogicalValues(), heads, m, headDim, mask,
            scale, expectedContext, expectedAttention);

        var context = new float[n * inner];
        var attention = withAttention ? new float[heads * n * m] : [];
        DecodeAttention.Compute(queries, n, cache.View, scale, context, attention, variant, maxThreads);

        string shape = $"{variant} threads={maxThreads} m={m} headDim={headDim} n={n} heads={heads} mask={maskKind}";
        float contextTolerance = 1e-5f * (1f + values.Max(MathF.Abs));
        for (int k = 0; k < context.Length; k++)
            Assert.True(MathF.Abs(context[k] - expectedContext[k]) <= contextTolerance,
                $"{shape}: context[{k}] = {context[k]}, expected {expectedContext[k]}");
        if (!withAttention) return;
        for (int row = 0; row < heads * n; row++)
            for (int j = 0; j < m; j++)
            {
                float actual = attention[row * m + j], expected = expectedAttention[row * m + j];
                if (mask.Length > 0 && mask[j] == 0)
                    Assert.True(actual == 0f, $"{shape}: padded attention[{row}, {j}] = {actual}");
                else
                    Assert.True(MathF.Abs(actual - expected) <= 2e-6f,
                        $"{shape}: attention[{row}, {j}] = {actual}, expected {expected}");
            }
    }

    private static byte[] MakeMask(MaskKind kind, int m, Random random)
    {
        switch (kind)
        {
            case MaskKind.None:
                return [];
            case MaskKind.Random:
            {
                var mask = new byte[m];
                for (int j = 0; j < m; j++) mask[j] = (byte)(random.Next(3) == 0 ? 0 : 1);
                mask[random.Next(m)] = 1;
                return mask;
            }
            case MaskKind.SingleKept:
            {
                var mask = new byte[m];
                mask[random.Next(m)] = 1;
                return mask;
            }
            case MaskKind.OnlyLastKept:
            {
                var mask = new byte[m];
                mask[m - 1] = 1;
                return mask;
            }
            default:
            {
                var mask = new byte[m];
                int padding = random.Next(m);
                for (int j = padding; j < m; j++) mask[j] = 1;
                return mask;
            }
        }
    }

    private static float[] RandomArray(Random random, int length, float magnitude)
    {
        var array = new float[length];
        for (int k = 0; k < length; k++) array[k] = (float)(random.NextDouble() * 2 - 1) * magnitude;
        return array;
    }
}

public class DecodeExpTests
{
    [Fact]
    public void KernelExpIsAccurateOverTheSoftmaxRange()
    {
        var random = new Random(11);
        double worst = 0;
        for (int k = 0; k < 200_000; k++)
        {
            float x = k < 8 ? -k * 10f : (float)(-random.NextDouble() * 87);
            double expected = Math.Exp(x);
            float v512 = Lanes512.Exp(System.Runtime.Intrinsics.Vector512.Create(x))[0];
            float v256 = Lanes256.Exp(System.Runtime.Intrinsics.Vector256.Create(x))[0];
            float v128 = Lanes128.Exp(System.Runtime.Intrinsics.Vector128.Create(x))[0];
            foreach (float actual in new[] { v512, v256, v128 })
                worst = Math.Max(worst, Math.Abs(actual - expected) / expected);
        }
        Assert.True(worst < 4e-7, $"worst relative error {worst}");
    }

    [Fact]
    public void KernelExpOfNegativeInfinityIsTinyAndFinite()
    {
        float e = Lanes512.Exp(System.Runtime.Intrinsics.Vector512.Create(float.NegativeInfinity))[0];
        Assert.True(float.IsFinite(e) && e >= 0 && e < 1e-37f);
        Assert.Equal(1f, Lanes512.Exp(System.Runtime.Intrinsics.Vector512<float>.Zero)[0]);
    }
}
