using CrossAttention.Core.Kernels;
using CrossAttention.Core.Alignment;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests;

public class TutorialModelTests
{
    [Fact]
    public void AveragedAttentionReordersTheSentence()
    {
        var model = TutorialModel.Create();
        var example = TutorialModel.Example;
        Assert.Equal(["I", "am", "student"], example.Source.Tokens);
        Assert.Equal(["मैं", "छात्र", "हूँ"], example.Target.Tokens);

        var averaged = DecodeTarget(model, example, out _);
        int[] expectedSource = [0, 2, 1]; // मैं → I, छात्र → student, हूँ → am
        for (int step = 0; step < 3; step++)
        {
            var row = averaged[step];
            Assert.Equal(1.0, row.Sum(), 5);
            Assert.True(row[expectedSource[step]] >= 0.7f,
                $"{example.Target.Tokens[step]} gives '{example.Source.Tokens[expectedSource[step]]}' {row[expectedSource[step]]}");
        }
    }

    [Fact]
    public void RecordedAlignmentRunsFromTheFirstWordToTheLast()
    {
        var model = TutorialModel.Create();
        DecodeTarget(model, TutorialModel.Example, out var recorder);
        var heads = recorder.Read(0, [0, 1], out int steps);
        var raw = AttentionAlignment.Compute(heads, steps, 3, null, normalize: false, medianWidth: 1);
        var normalized = AttentionAlignment.Compute(heads, steps, 3, null, normalize: true, medianWidth: 1);
        // Raw weights are all gains, so the path takes the longest staircase; standardised columns (Whisper) make weak
        // cells costs, and the path goes straight from मैं on "I" to छात्र on "student". A monotonic path cannot go back
        // to "am" for हूँ: the reordering is what DTW cannot show, and the heatmap can.
        Assert.Equal([(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)], raw.Path);
        Assert.Equal([(0, 0), (0, 1), (1, 2), (2, 2)], normalized.Path);
    }

    /// <summary>One decode step per target token; returns the head-averaged weights per step and the record.</summary>
    private static float[][] DecodeTarget(CrossAttentionModel model, ModelExample example, out AttentionRecorder recorder)
    {
        int m = example.Source.Tokens.Count, heads = model.Heads;
        var encoded = model.Encode(example.Source.Vectors.SelectMany(v => v).ToArray(), m, default, ComputeOptions.Default);
        recorder = new AttentionRecorder(1, heads, m, 16);
        var rows = new float[example.Target.Tokens.Count][];
        for (int step = 0; step < rows.Length; step++)
        {
            var output = new float[TutorialModel.DModel];
            var attention = new float[heads * m];
            model.Layers[0].Decode(encoded.Layers[0], example.Target.Vectors[step], 1, output, attention, ComputeOptions.Default);
            Assert.True(recorder.TryReserve(0, 1));
            recorder.Append(0, attention, 1);
            rows[step] = Enumerable.Range(0, m).Select(j => Enumerable.Range(0, heads).Average(h => attention[h * m + j])).ToArray();
        }
        encoded.Dispose();
        return rows;
    }
}
