namespace CrossAttention.Core.Alignment;

/// <summary>A span of source positions one target step's path covers.</summary>
public readonly record struct AlignmentSpan(int Step, int From, int To);

/// <summary>The matrix an alignment was found on ([Steps, Columns]) and its path and spans, in source positions.</summary>
public sealed record AlignmentResult(float[] Matrix, int Steps, int Columns, (int Step, int Source)[] Path, AlignmentSpan[] Spans);

/// <summary>
/// Word alignment from recorded cross-attention, as Whisper finds word timestamps: per head, optionally standardise each
/// source column over the steps and median-filter each step along the source; average the heads; then the dynamic time
/// warping path over the kept (unmasked) columns. Padding columns stay 0 and the path never visits them.
/// </summary>
public static class AttentionAlignment
{
    /// <param name="heads">each [steps, columns]</param>
    /// <param name="keep">[columns], 1 keep / 0 padding; null keeps every column</param>
    public static AlignmentResult Compute(IReadOnlyList<float[]> heads, int steps, int columns, byte[]? keep, bool normalize,
        int medianWidth)
    {
        if (heads.Count == 0) throw new ArgumentException("Choose at least one head.", nameof(heads));
        int[] kept = keep is null ? [.. Enumerable.Range(0, columns)] : [.. Enumerable.Range(0, columns).Where(j => keep[j] != 0)];
        if (kept.Length == 0) throw new ArgumentException("Every column is padding.", nameof(keep));
        int width = kept.Length;

        var average = new float[steps * width]; // [steps, kept]
        var head = new float[steps * width];
        foreach (var weights in heads)
        {
            DynamicTimeWarping.CheckShape(weights.Length, steps, columns);
            for (int i = 0; i < steps; i++)
                for (int k = 0; k < width; k++)
                    head[i * width + k] = weights[i * columns + kept[k]];
            if (normalize) StandardiseColumns(head, steps, width);
            MedianFilter.ApplyToRows(head, steps, width, medianWidth);
            for (int x = 0; x < head.Length; x++) average[x] += head[x];
        }
        for (int x = 0; x < average.Length; x++) average[x] /= heads.Count;

        var compactPath = DynamicTimeWarping.Path(average, steps, width);
        var path = compactPath.Select(p => (p.Row, kept[p.Column])).ToArray();
        // The path visits every step, columns non-decreasing: a step's span runs from its first column to its last.
        var spans = new AlignmentSpan[steps];
        var seen = new bool[steps];
        foreach (var (step, source) in path)
        {
            spans[step] = seen[step] ? spans[step] with { To = source } : new AlignmentSpan(step, source, source);
            seen[step] = true;
        }

        var matrix = new float[steps * columns];
        for (int i = 0; i < steps; i++)
            for (int k = 0; k < width; k++)
                matrix[i * columns + kept[k]] = average[i * width + k];
        return new AlignmentResult(matrix, steps, columns, path, spans);
    }

    /// <summary>Each column minus its mean over the steps, over its standard deviation (a constant column becomes 0).</summary>
    internal static void StandardiseColumns(Span<float> values, int rows, int columns)
    {
        for (int j = 0; j < columns; j++)
        {
            double sum = 0, squares = 0;
            for (int i = 0; i < rows; i++) sum += values[i * columns + j];
            double mean = sum / rows;
            for (int i = 0; i < rows; i++)
            {
                double d = values[i * columns + j] - mean;
                squares += d * d;
            }
            double deviation = Math.Sqrt(squares / rows);
            for (int i = 0; i < rows; i++)
                values[i * columns + j] = deviation > 0 ? (float)((values[i * columns + j] - mean) / deviation) : 0f;
        }
    }
}
