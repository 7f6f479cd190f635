using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Models;

/// <summary>Labelled token vectors: one row of <see cref="Vectors"/> per token.</summary>
public sealed record TokenSequence(IReadOnlyList<string> Tokens, IReadOnlyList<float[]> Vectors);

/// <summary>A source and a target to try a model with.</summary>
public sealed record ModelExample(TokenSequence Source, TokenSequence Target);

/// <summary>
/// The textbook example as a model: English "I am student" is the source, Hindi "मैं छात्र हूँ" the target. Hindi puts
/// the verb last, so the attention reorders: मैं → "I", छात्र → "student", हूँ → "am". The weights are set by hand so the
/// mechanism can be read off them: each source word is a direction, K = V = that direction in both heads, and Wq
/// turns a Hindi word into its English word's direction; head 0 is sharp (gain 7), head 1 soft (gain 3.5).
/// </summary>
public static class TutorialModel
{
    public const string Name = "tutorial";

    /// <summary>d_src = d_q: three word directions and one feature every word shares.</summary>
    public const int DModel = 4;

    public const int Heads = 2;

    /// <summary>The word directions of each head.</summary>
    public const int HeadDim = 3;

    private static readonly float[] HeadGains = [7f, 3.5f];

    public static ModelExample Example { get; } = new(
        new TokenSequence(["I", "am", "student"],
        [
            [1f, 0f, 0f, 0.5f],
            [0f, 1f, 0f, 0.5f],
            [0f, 0f, 1f, 0.5f],
        ]),
        new TokenSequence(["मैं", "छात्र", "हूँ"],
        [
            [0.9f, 0.1f, 0f, 0.3f],
            [0.1f, 0f, 0.9f, 0.3f],
            [0f, 0.9f, 0.1f, 0.3f],
        ]));

    /// <param name="weightsType">what the weights are stored as (its values, 7, 3.5, 1 and 1/heads, are exact in all three)</param>
    public static CrossAttentionModel Create(KeyValueElementType weightsType = KeyValueElementType.Float32)
    {
        const int inner = Heads * HeadDim;
        var query = new float[inner * DModel];  // [inner, d]
        var key = new float[inner * DModel];    // [inner, d]
        var value = new float[inner * DModel];  // [inner, d]
        var output = new float[DModel * inner]; // [d, inner]
        for (int h = 0; h < Heads; h++)
        {
            for (int word = 0; word < HeadDim; word++)
            {
                int row = h * HeadDim + word;
                query[row * DModel + word] = HeadGains[h];
                key[row * DModel + word] = 1f;
                value[row * DModel + word] = 1f;
                // The output is the mean of the heads' contexts, back in the word directions.
                output[word * inner + row] = 1f / Heads;
            }
        }
        var layer = new CrossAttentionLayer(
            new LinearWeights(query, inner, DModel, null), new LinearWeights(key, inner, DModel, null),
            new LinearWeights(value, inner, DModel, null), new LinearWeights(output, DModel, inner, null), Heads, weightsType: weightsType);
        return new CrossAttentionModel(Name, "tutorial", [layer]);
    }
}
