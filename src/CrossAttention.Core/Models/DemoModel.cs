using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Models;

/// <summary>
/// The built-in model: seeded weights of nn.Linear's usual scale, so the service runs with no checkpoint files.
/// </summary>
public static class DemoModel
{
    public const string Name = "demo";
    public const int DefaultLayers = 2;
    public const int DefaultDModel = 64;
    public const int DefaultHeads = 4;
    private const int Seed = 20261128;

    /// <param name="weightsType">what the weights are stored as (the seeded float32 values, rounded)</param>
    public static CrossAttentionModel Create(int layers = DefaultLayers, int dModel = DefaultDModel, int heads = DefaultHeads,
        string name = Name, KeyValueElementType weightsType = KeyValueElementType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dModel, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        if (dModel % heads != 0) throw new ArgumentException($"dModel {dModel} is not a multiple of heads {heads}.");
        var random = new Random(Seed);
        // nn.Linear's default init bound, 1/sqrt(in): keeps scores in a range where attention is neither flat nor one-hot.
        float bound = 1f / MathF.Sqrt(dModel);
        LinearWeights Linear() => new(Uniform(random, dModel * dModel, bound), dModel, dModel, Uniform(random, dModel, bound));
        var list = new CrossAttentionLayer[layers];
        for (int i = 0; i < layers; i++) list[i] = new CrossAttentionLayer(Linear(), Linear(), Linear(), Linear(), heads, weightsType: weightsType);
        return new CrossAttentionModel(name, "demo", list);
    }

    private static float[] Uniform(Random random, int count, float bound)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * bound);
        return values;
    }
}
