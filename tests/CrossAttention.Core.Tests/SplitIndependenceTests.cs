using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// A result must not depend on how the work was split: on one thread or two, or alongside other steps of a batch.
/// The service gives a session one core or two depending on load, and batches whatever steps are waiting, so any
/// such dependence would make an answer depend on how busy the server was. Compared bit for bit.
/// </summary>
public class SplitIndependenceTests
{
    public static TheoryData<KernelVariant> Variants()
    {
        var data = new TheoryData<KernelVariant>();
        foreach (var variant in KernelVariants.Supported) data.Add(variant);
        return data;
    }

    // (m, sourceDim, heads, headDim): every projection large enough for the two-thread path (≥ 256 KiB of weights or
    // 4 MFLOP); m odd, below one tile, not a multiple of any tile height, across row chunks (96) and above the
    // weighted sum's row block (16 KiB of V rows: 256 rows of 16); sourceDim across depth blocks (512); panel tails
    // (inner not a multiple of 32); headDim below, at and between vector widths.
    private static readonly (int M, int SourceDim, int Heads, int HeadDim)[] Shapes =
    [
        (1, 256, 4, 64),
        (7, 700, 5, 20),
        (13, 256, 16, 16),
        (97, 512, 3, 33),
        (301, 256, 8, 16),
        (300, 130, 5, 20),
        (523, 600, 2, 80),
    ];

    [Theory]
    [MemberData(nameof(Variants))]
    public void EncodeWritesTheSameCacheOnOneThreadAndTwo(KernelVariant variant)
    {
        var random = new Random(41);
        foreach (var (m, sourceDim, heads, headDim) in Shapes)
        {
            var layer = Layer(random, sourceDim, heads, headDim);
            float[] source = SyntheticLayer.RandomValues(random, m * sourceDim);
            foreach (var elementType in new[] { KeyValueElementType.Float32, KeyValueElementType.BFloat16 })
            {
                using var one = layer.Encode(source, m, [], new ComputeOptions(variant, 1), elementType: elementType);
                using var two = layer.Encode(source, m, [], new ComputeOptions(variant, 2), elementType: elementType);
                string shape = $"m {m}, sourceDim {sourceDim}, {heads}×{headDim}, {elementType}";
                AssertSameBytes(one.KeyRegion, two.KeyRegion, $"keys ({shape})");
                AssertSameBytes(one.ValueRegion, two.ValueRegion, $"values ({shape})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ADecodeStepGetsTheSameBitsOnOneThreadAndTwoAndInAnyBatch(KernelVariant variant)
    {
        var random = new Random(43);
        foreach (var (m, sourceDim, heads, headDim) in Shapes)
        {
            var layer = Layer(random, sourceDim, heads, headDim);
            byte[] mask = Enumerable.Range(0, m).Select(j => (byte)(j % 7 == 3 && m > 1 ? 0 : 1)).ToArray();
            using var cache = layer.Encode(SyntheticLayer.RandomValues(random, m * sourceDim), m, mask, new ComputeOptions(variant, 1));
            string shape = $"m {m}, {heads}×{headDim}";

            // Each step alone on one thread: what every other split must reproduce.
            int[] rows = [1, 2, 1, 3];
            var steps = rows.Select(n => new Step(cache, SyntheticLayer.RandomValues(random, n * sourceDim), n, sourceDim, heads * n * m)).ToArray();
            foreach (var step in steps)
                layer.Decode(cache, step.QueryValues, step.Rows, step.Expected, step.ExpectedAttention, new ComputeOptions(variant, 1));

            foreach (int threads in new[] { 1, 2 })
            {
                var options = new ComputeOptions(variant, threads);
                foreach (var step in steps)
                {
                    var output = new float[step.Expected.Length];
                    var attention = new float[step.ExpectedAttention.Length];
                    layer.Decode(cache, step.QueryValues, step.Rows, output, attention, options);
                    AssertSameBits(step.Expected, output, $"output alone, {threads} threads ({shape}, n {step.Rows})");
                    AssertSameBits(step.ExpectedAttention, attention, $"attention alone, {threads} threads ({shape}, n {step.Rows})");
                }

                // Steps on one cache without the weights attend in one pass over its K/V.
                var batch = steps.Select(s => new Step(cache, s.QueryValues, s.Rows, sourceDim, 0)).ToArray();
                layer.DecodeBatch(batch, options);
                for (int i = 0; i < batch.Length; i++)
                    AssertSameBits(steps[i].Expected, batch[i].Output.ToArray(), $"step {i} of a batch, {threads} threads ({shape})");
            }
        }
    }

    private static CrossAttentionLayer Layer(Random random, int sourceDim, int heads, int headDim)
    {
        var weights = SyntheticLayer.Create(random, queryDim: sourceDim, sourceDim, heads * headDim,
            new ProjectionBiases(true, true, true, true));
        return new CrossAttentionLayer(weights.Q, weights.K, weights.V, weights.O, heads);
    }

    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int at = expected.CommonPrefixLength(actual);
        if (at < expected.Length) Assert.Fail($"{what}: first differing byte at {at} of {expected.Length}.");
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: value {i} is {actual[i]:R}, expected {expected[i]:R}.");
    }

    private sealed class Step(KeyValueCache cache, float[] queries, int rows, int queryDim, int attentionValues) : IDecodeStep
    {
        public float[] QueryValues => queries;
        public float[] Expected { get; } = new float[rows * queryDim];
        public float[] ExpectedAttention { get; } = new float[attentionValues];
        private readonly float[] _output = new float[rows * queryDim];
        private readonly float[] _attention = new float[attentionValues];
        public KeyValueCache Cache => cache;
        public int Rows => rows;
        public ReadOnlySpan<float> Queries => queries;
        public Span<float> Output => _output;
        public Span<float> Attention => _attention;
    }
}
