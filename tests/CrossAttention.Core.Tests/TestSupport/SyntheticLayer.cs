using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>
/// One cross-attention layer's random weights, as a test writes them into a checkpoint and as the reference reads
/// them back (already rounded to the stored dtype, so F16/BF16 checkpoints compare exactly).
/// </summary>
internal sealed record SyntheticLayer(LinearWeights Q, LinearWeights K, LinearWeights V, LinearWeights O)
{
    public static SyntheticLayer Create(Random random, int queryDim, int sourceDim, int inner,
        ProjectionBiases biases, string dtype = "F32")
    {
        // Wider than nn.Linear's init so attention is peaked: a wrong scale or a swapped tensor then shows plainly.
        LinearWeights Linear(int outFeatures, int inFeatures, bool bias, float gain)
        {
            float bound = gain / MathF.Sqrt(inFeatures);
            float[] Uniform(int count) =>
                Precision.RoundTrip(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * bound).ToArray(), dtype);
            return new LinearWeights(Uniform(outFeatures * inFeatures), outFeatures, inFeatures, bias ? Uniform(outFeatures) : null);
        }
        return new SyntheticLayer(
            Linear(inner, queryDim, biases.Q, 3f),
            Linear(inner, sourceDim, biases.K, 3f),
            Linear(inner, sourceDim, biases.V, 1f),
            Linear(queryDim, inner, biases.O, 1f));
    }

    /// <summary>Writes <c>{module}.weight</c> (and <c>.bias</c> when there is one) for each projection.</summary>
    public void AddTo(SafetensorsWriter writer, string q, string k, string v, string o, string dtype = "F32")
    {
        foreach (var (module, w) in new[] { (q, Q), (k, K), (v, V), (o, O) })
        {
            writer.AddFloats(module + ".weight", w.Weight, [w.OutFeatures, w.InFeatures], dtype);
            if (w.Bias is not null) writer.AddFloats(module + ".bias", w.Bias, [w.OutFeatures], dtype);
        }
    }

    /// <summary>
    /// Encodes a random masked source and decodes random queries through the loaded layer, and checks both the
    /// output and the attention against the reference computed from this layer's weights with <paramref name="scale"/>.
    /// </summary>
    public void AssertLoadedLayerMatches(CrossAttentionLayer layer, int heads, float scale, Random random)
    {
        const int m = 6, n = 3;
        float[] source = RandomValues(random, m * K.InFeatures);
        float[] queries = RandomValues(random, n * Q.InFeatures);
        byte[] mask = [1, 1, 1, 1, 0, 1];
        var (expectedOutput, expectedAttention) =
            ReferenceCrossAttention.Compute(Q, K, V, O, heads, scale, source, m, queries, n, mask);

        var cache = layer.Encode(source, m, mask, ComputeOptions.Default);
        var output = new float[n * Q.InFeatures];
        var attention = new float[heads * n * m];
        layer.Decode(cache, queries, n, output, attention, ComputeOptions.Default);
        Tolerance.AssertClose(expectedOutput, output, 1e-4, "output");
        Tolerance.AssertClose(expectedAttention, attention, 2e-5, "attention");
    }

    public static float[] RandomValues(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
