using System.Numerics.Tensors;

namespace CrossAttention.Core.Alignment;

/// <summary>
/// The monotonic path through a [rows, columns] matrix of weights that collects the most weight (least total cost,
/// cost = −weight), from [0, 0] to [rows − 1, columns − 1], each move one of: diagonal (next row and column), down
/// (next row, same column), right (same row, next column). Ties go to the diagonal, then down, then right, so the
/// result is one defined path. Whisper finds word timings this way over cross-attention weights.
/// </summary>
public static class DynamicTimeWarping
{
    internal const byte Diagonal = 0, Down = 1, Right = 2;

    /// <summary>The path as (row, column) pairs, both non-decreasing.</summary>
    /// <param name="weights">[rows, columns]</param>
    public static (int Row, int Column)[] Path(ReadOnlySpan<float> weights, int rows, int columns)
    {
        CheckShape(weights.Length, rows, columns);
        if (rows == 0) return [];
        // Two rolling rows of accumulated cost with a virtual column −1 at index 0 (+∞, but 0 above [0, 0] so the path
        // starts there), and one move per cell to walk back.
        var previous = new double[columns + 1];
        var current = new double[columns + 1];
        var best = new double[columns];
        var moves = new byte[(long)rows * columns];
        previous.AsSpan().Fill(double.PositiveInfinity);
        previous[0] = 0;
        for (int i = 0; i < rows; i++)
        {
            // min(diagonal, down) for every column at once; only "right" depends on the cell before it.
            TensorPrimitives.Min(previous.AsSpan(0, columns), previous.AsSpan(1, columns), best);
            current[0] = double.PositiveInfinity;
            var row = weights.Slice(i * columns, columns);
            var rowMoves = moves.AsSpan(i * columns, columns);
            for (int j = 0; j < columns; j++)
            {
                double right = current[j];
                double fromAbove = best[j];
                if (fromAbove <= right)
                {
                    rowMoves[j] = previous[j] <= previous[j + 1] ? Diagonal : Down;
                    current[j + 1] = fromAbove - row[j];
                }
                else
                {
                    rowMoves[j] = Right;
                    current[j + 1] = right - row[j];
                }
            }
            (previous, current) = (current, previous);
        }
        return WalkBack(moves, rows, columns);
    }

    internal static (int Row, int Column)[] WalkBack(ReadOnlySpan<byte> moves, int rows, int columns)
    {
        var path = new List<(int, int)>(rows + columns);
        int r = rows - 1, c = columns - 1;
        while (true)
        {
            path.Add((r, c));
            if (r == 0 && c == 0) break;
            switch (moves[r * columns + c])
            {
                case Diagonal: r--; c--; break;
                case Down: r--; break;
                default: c--; break;
            }
        }
        path.Reverse();
        return [.. path];
    }

    internal static void CheckShape(int length, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (length != (long)rows * columns) throw new ArgumentException($"weights must be [{rows}, {columns}].", "weights");
    }
}
