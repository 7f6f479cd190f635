using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

public class DecodeBatchTests
{
    private sealed class Step(KeyValueCache cache, float[] queries, int rows, int queryDim, int attentionValues) : IDecodeStep
    {
        public float[] OutputValues { get; } = new float[rows * queryDim];
        public float[] AttentionValues { get; } = new float[attentionValues];
        public float[] QueryValues => queries;
        public KeyValueCache Cache => cache;
        public int Rows => rows;
        public ReadOnlySpan<float> Queries => queries;
        public Span<float> Output => OutputValues;
        public Span<float> Attention => AttentionValues;
    }

    public static TheoryData<KernelVariant, int> VariantsAndThreads() => DecodeAttentionTests.VariantsAndThreads();

    [Theory]
    [MemberData(nameof(VariantsAndThreads))]
    public void EveryStepGetsExactlyWhatItWouldGetAloneAndWhatTheReferenceGives(KernelVariant variant, int maxThreads)
    {
        const int queryDim = 24, sourceDim = 20, heads = 3, inner = 18;
        var random = new Random(7);
        var weights = SyntheticLayer.Create(random, queryDim, sourceDim, inner, new ProjectionBiases(true, true, true, true));
        var layer = new CrossAttentionLayer(weights.Q, weights.K, weights.V, weights.O, heads);
        var options = new ComputeOptions(variant, maxThreads);

        // Two sources (one padded); steps interleave them, vary n, and some ask for the weights.
        (int M, byte[] Mask)[] sources = [(9, []), (13, [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])];
        var encoded = sources.Select(s =>
        {
            float[] values = SyntheticLayer.RandomValues(random, s.M * sourceDim);
            return (Values: values, s.M, s.Mask, Cache: layer.Encode(values, s.M, s.Mask, options));
        }).ToArray();
        (int Source, int Rows, bool Weights)[] plan =
            [(0, 1, false), (0, 2, false), (0, 1, true), (1, 3, false), (1, 1, false), (0, 1, false), (1, 2, true)];
        var steps = plan.Select(p => new Step(encoded[p.Source].Cache, SyntheticLayer.RandomValues(random, p.Rows * queryDim),
            p.Rows, queryDim, p.Weights ? heads * p.Rows * encoded[p.Source].M : 0)).ToList();

        layer.DecodeBatch(steps, options);

        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var source = encoded[plan[i].Source];
            var alone = new float[step.OutputValues.Length];
            var aloneAttention = new float[step.AttentionValues.Length];
            layer.Decode(step.Cache, step.QueryValues, step.Rows, alone, aloneAttention, options);
            // Bit for bit: a step's result must not depend on which other steps share its batch.
            Assert.Equal(alone, step.OutputValues);
            Assert.Equal(aloneAttention, step.AttentionValues);

            var (expected, expectedAttention) = ReferenceCrossAttention.Compute(weights.Q, weights.K, weights.V, weights.O,
                heads, layer.Scale, source.Values, source.M, step.QueryValues, step.Rows, source.Mask);
            Tolerance.AssertClose(expected, step.OutputValues, 1e-4, $"step {i} output vs reference");
            if (plan[i].Weights) Tolerance.AssertClose(expectedAttention, step.AttentionValues, 2e-5, $"step {i} attention vs reference");
        }
    }

    /// <remarks>The batch holds 15 query rows: its projections take the many-row route (narrow weights widened a block
    /// at a time), each step alone the few-row one (widened in registers).</remarks>
    [Theory]
    [MemberData(nameof(PackedLinearTests.VariantsThreadsAndWeightsTypes), MemberType = typeof(PackedLinearTests))]
    public void StepsOverEveryElementTypeGetExactlyWhatTheyWouldGetAloneWhateverTheyAreBatchedWith(KernelVariant variant, int maxThreads,
        KeyValueElementType weightsType)
    {
        const int queryDim = 24, sourceDim = 20, heads = 3, inner = 48;
        var random = new Random(11);
        var weights = SyntheticLayer.Create(random, queryDim, sourceDim, inner, new ProjectionBiases(true, true, true, true));
        var layer = new CrossAttentionLayer(weights.Q, weights.K, weights.V, weights.O, heads, weightsType: weightsType);
        var options = new ComputeOptions(variant, maxThreads);

        // One source held three ways, and a padded one as bfloat16: consecutive steps share a cache, so some attend in one pass.
        float[] source = SyntheticLayer.RandomValues(random, 21 * sourceDim), padded = SyntheticLayer.RandomValues(random, 5 * sourceDim);
        KeyValueCache[] caches =
        [
            layer.Encode(source, 21, [], options, elementType: KeyValueElementType.Float32),
            layer.Encode(source, 21, [], options, elementType: KeyValueElementType.Float16),
            layer.Encode(source, 21, [], options, elementType: KeyValueElementType.BFloat16),
            layer.Encode(padded, 5, [1, 0, 1, 1, 0], options, elementType: KeyValueElementType.BFloat16),
        ];
        int[] lengths = [21, 21, 21, 5];
        (int Cache, int Rows, bool Weights)[] plan =
            [(1, 1, false), (1, 2, false), (0, 1, false), (2, 1, true), (2, 3, false), (2, 1, false), (3, 2, false),
             (1, 1, true), (0, 2, false), (3, 1, true)];
        var steps = plan.Select(p => new Step(caches[p.Cache], SyntheticLayer.RandomValues(random, p.Rows * queryDim),
            p.Rows, queryDim, p.Weights ? heads * p.Rows * lengths[p.Cache] : 0)).ToList();

        layer.DecodeBatch(steps, options);

        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var alone = new float[step.OutputValues.Length];
            var aloneAttention = new float[step.AttentionValues.Length];
            layer.Decode(step.Cache, step.QueryValues, step.Rows, alone, aloneAttention, options);
            Assert.Equal(alone, step.OutputValues);
            Assert.Equal(aloneAttention, step.AttentionValues);
        }
        foreach (var cache in caches) cache.Dispose();
    }

    [Fact]
    public void AStepWithTheWrongShapeIsRefusedBeforeAnyStepIsWritten()
    {
        var model = DemoModel.Create();
        var layer = model.Layers[0];
        var random = new Random(3);
        var cache = layer.Encode(SyntheticLayer.RandomValues(random, 5 * model.SourceDim), 5, [], ComputeOptions.Default);
        var good = new Step(cache, SyntheticLayer.RandomValues(random, model.QueryDim), 1, model.QueryDim, 0);
        var bad = new Step(cache, SyntheticLayer.RandomValues(random, model.QueryDim + 1), 1, model.QueryDim, 0);

        Assert.Throws<ArgumentException>(() => layer.DecodeBatch(new[] { good, bad }, ComputeOptions.Default));
        Assert.All(good.OutputValues, v => Assert.Equal(0f, v));
    }
}
