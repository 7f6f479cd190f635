namespace CrossAttention.Core.Alignment;

/// <summary>
/// A median filter along each row of a matrix, with the row mirrored at its ends (index −1 reads 1, as torch's
/// "reflect" padding which Whisper uses); a width of 1 leaves the row as it is.
/// </summary>
public static class MedianFilter
{
    /// <param name="values">[rows, columns], filtered in place along each row</param>
    /// <param name="width">odd, ≥ 1</param>
    public static void ApplyToRows(Span<float> values, int rows, int columns, int width)
    {
        if (width < 1 || width % 2 == 0) throw new ArgumentOutOfRangeException(nameof(width), width, "The width must be odd and at least 1.");
        DynamicTimeWarping.CheckShape(values.Length, rows, columns);
        if (width == 1) return;
        int half = width / 2;
        var window = new float[width];
        var source = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            var row = values.Slice(r * columns, columns);
            row.CopyTo(source);
            for (int j = 0; j < columns; j++)
            {
                for (int k = 0; k < width; k++) window[k] = source[Mirror(j - half + k, columns)];
                Array.Sort(window);
                row[j] = window[half];
            }
        }
    }

    /// <summary>Folds any index into [0, length) by mirroring at both ends without repeating the edge.</summary>
    internal static int Mirror(int index, int length)
    {
        if (length == 1) return 0;
        int period = 2 * (length - 1);
        int folded = index % period;
        if (folded < 0) folded += period;
        return folded < length ? folded : period - folded;
    }
}
