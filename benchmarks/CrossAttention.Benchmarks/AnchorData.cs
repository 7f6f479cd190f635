using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Benchmarks;

/// <summary>
/// Seeded random weights and inputs with the distributions the libtorch anchor uses: weights and biases ~N(0, 0.02),
/// activations ~N(0, 1). System.Random is deterministic for a given seed, so every run times the same numbers.
/// </summary>
public static class AnchorData
{
    public const int Seed = 20261128;
    public const float WeightStd = 0.02f;

    /// <summary>count values ~N(0, std²) by Box-Muller, both outputs of each pair used.</summary>
    public static float[] Normal(Random random, int count, float std)
    {
        var values = new float[count];
        for (int i = 0; i < count; i += 2)
        {
            // 1 - NextDouble() lies in (0, 1], so the log is finite.
            double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble()));
            double angle = 2.0 * Math.PI * random.NextDouble();
            values[i] = (float)(std * radius * Math.Cos(angle));
            if (i + 1 < count) values[i + 1] = (float)(std * radius * Math.Sin(angle));
        }
        return values;
    }

    /// <summary>A square nn.Linear [d, d] with bias, both ~N(0, 0.02²).</summary>
    public static LinearWeights Linear(Random random, int d) =>
        new(Normal(random, d * d, WeightStd), d, d, Normal(random, d, WeightStd));

    /// <summary>A cross-attention layer of model size d (q, k, v, o all [d, d] with bias), plus the weights it was packed from.</summary>
    /// <param name="weightsType">what the layer stores the weights as (the same seeded values, rounded)</param>
    public static (CrossAttentionLayer Layer, LayerWeights Weights) Layer(Random random, int d, int heads,
        KeyValueElementType weightsType = KeyValueElementType.Float32)
    {
        var weights = new LayerWeights(Linear(random, d), Linear(random, d), Linear(random, d), Linear(random, d));
        return (new CrossAttentionLayer(weights.Query, weights.Key, weights.Value, weights.Output, heads, weightsType: weightsType),
            weights);
    }
}

/// <summary>The unpacked projections of one layer, kept only where a reference computation needs them.</summary>
public sealed record LayerWeights(LinearWeights Query, LinearWeights Key, LinearWeights Value, LinearWeights Output);
