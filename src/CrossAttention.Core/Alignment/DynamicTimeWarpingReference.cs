namespace CrossAttention.Core.Alignment;

/// <summary>
/// The textbook dynamic time warping over a full (rows + 1) × (columns + 1) table, kept plain to check
/// <see cref="DynamicTimeWarping"/> against: same cost (−weight), same moves, same tie order.
/// </summary>
public static class DynamicTimeWarpingReference
{
    public static (int Row, int Column)[] Path(ReadOnlySpan<float> weights, int rows, int columns)
    {
        DynamicTimeWarping.CheckShape(weights.Length, rows, columns);
        if (rows == 0) return [];
        var cost = new double[rows + 1, columns + 1];
        var moves = new byte[rows * columns];
        for (int i = 0; i <= rows; i++)
            for (int j = 0; j <= columns; j++)
                cost[i, j] = double.PositiveInfinity;
        cost[0, 0] = 0;
        for (int i = 1; i <= rows; i++)
        {
            for (int j = 1; j <= columns; j++)
            {
                double diagonal = cost[i - 1, j - 1], down = cost[i - 1, j], right = cost[i, j - 1];
                byte move;
                double before;
                if (diagonal <= down && diagonal <= right) (move, before) = (DynamicTimeWarping.Diagonal, diagonal);
                else if (down <= right) (move, before) = (DynamicTimeWarping.Down, down);
                else (move, before) = (DynamicTimeWarping.Right, right);
                moves[(i - 1) * columns + (j - 1)] = move;
                cost[i, j] = before - weights[(i - 1) * columns + (j - 1)];
            }
        }
        return DynamicTimeWarping.WalkBack(moves, rows, columns);
    }
}
