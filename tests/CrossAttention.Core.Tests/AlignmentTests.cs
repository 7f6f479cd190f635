using CrossAttention.Core.Alignment;

namespace CrossAttention.Core.Tests;

public class AlignmentTests
{
    [Fact]
    public void PathFollowsTheOnlyCellsCarryingWeight()
    {
        // The ones form a staircase; any path that collects them all goes through exactly these cells, moving
        // diagonally where it can (the tie rule).
        const int rows = 3, columns = 5;
        (int, int)[] expected = [(0, 0), (0, 1), (1, 2), (2, 3), (2, 4)];
        var weights = new float[rows * columns];
        foreach (var (r, c) in expected) weights[r * columns + c] = 1f;

        Assert.Equal(expected, DynamicTimeWarping.Path(weights, rows, columns));
        Assert.Equal(expected, DynamicTimeWarpingReference.Path(weights, rows, columns));
    }

    [Fact]
    public void PathThroughAStrongOffDiagonalCellLeavesTheDiagonal()
    {
        // [0,2] is worth more than anything else: the path goes right along row 0 to reach it, then down column 2.
        float[] weights =
        [
            0.1f, 0.1f, 5f,
            0.1f, 0.1f, 0.2f,
            0.1f, 0.1f, 0.2f,
        ];
        (int, int)[] expected = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)];
        Assert.Equal(expected, DynamicTimeWarping.Path(weights, 3, 3));
        Assert.Equal(expected, DynamicTimeWarpingReference.Path(weights, 3, 3));
    }

    [Fact]
    public void TiesGoToTheDiagonalThenDown()
    {
        // Every path of a zero matrix costs 0. Walking back from the end, the diagonal wins; at the first column there
        // is no diagonal (and no right) left, so the path goes up; at the first row, left.
        Assert.Equal([(0, 0), (1, 1), (2, 2)], DynamicTimeWarping.Path(new float[9], 3, 3));
        Assert.Equal([(0, 0), (1, 0), (2, 1)], DynamicTimeWarping.Path(new float[6], 3, 2));
        Assert.Equal([(0, 0), (0, 1), (1, 2)], DynamicTimeWarping.Path(new float[6], 2, 3));
        Assert.Equal([(0, 0), (1, 0), (2, 1)], DynamicTimeWarpingReference.Path(new float[6], 3, 2));
        Assert.Equal([(0, 0), (0, 1), (1, 2)], DynamicTimeWarpingReference.Path(new float[6], 2, 3));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 7)]
    [InlineData(9, 1)]
    [InlineData(5, 5)]
    [InlineData(17, 40)]
    [InlineData(64, 13)]
    public void FastPathEqualsTheReferenceOnRandomMatricesWithManyTies(int rows, int columns)
    {
        var random = new Random(rows * 100 + columns);
        for (int trial = 0; trial < 20; trial++)
        {
            // Small integers make equal-cost alternatives common, so the tie order is exercised too.
            var weights = Enumerable.Range(0, rows * columns).Select(_ => (float)random.Next(0, 3)).ToArray();
            var fast = DynamicTimeWarping.Path(weights, rows, columns);
            Assert.Equal(DynamicTimeWarpingReference.Path(weights, rows, columns), fast);
            AssertMonotonicFromCornerToCorner(fast, rows - 1, columns - 1);
        }
    }

    [Fact]
    public void AlignmentSkipsMaskedColumnsAndEndsAtTheLastKeptOne()
    {
        const int steps = 3, columns = 5;
        byte[] keep = [1, 0, 1, 1, 0];
        // Step i weighs kept column i most; the padding columns weigh most of all, but must never be visited. Weights
        // are gains, so the path takes the longest staircase: two tie (via [0,2] or via [1,0]); walking back, down
        // beats right, so it goes through [0,2].
        float[] weights =
        [
            0.6f, 9f, 0.2f, 0.2f, 9f,
            0.2f, 9f, 0.6f, 0.2f, 9f,
            0.2f, 9f, 0.2f, 0.6f, 9f,
        ];
        var result = AttentionAlignment.Compute([weights], steps, columns, keep, normalize: false, medianWidth: 1);

        Assert.Equal([(0, 0), (0, 2), (1, 2), (1, 3), (2, 3)], result.Path);
        Assert.Equal([new AlignmentSpan(0, 0, 2), new AlignmentSpan(1, 2, 3), new AlignmentSpan(2, 3, 3)], result.Spans);
        for (int i = 0; i < steps; i++)
        {
            Assert.Equal(0f, result.Matrix[i * columns + 1]);
            Assert.Equal(0f, result.Matrix[i * columns + 4]);
            Assert.Equal(weights[i * columns + 2], result.Matrix[i * columns + 2]);
        }
    }

    [Fact]
    public void HeadsAreAveraged()
    {
        float[] a = [1f, 0f, 0.5f, 0.5f];
        float[] b = [0f, 1f, 0.25f, 0.75f];
        var result = AttentionAlignment.Compute([a, b], 2, 2, null, normalize: false, medianWidth: 1);
        Assert.Equal([0.5f, 0.5f, 0.375f, 0.625f], result.Matrix);
    }

    [Fact]
    public void SpansCoverEveryColumnAStepVisits()
    {
        // One step over four columns: the path runs right along the row.
        var result = AttentionAlignment.Compute([new float[] { 0.1f, 0.2f, 0.3f, 0.4f }], 1, 4, null, false, 1);
        Assert.Equal([new AlignmentSpan(0, 0, 3)], result.Spans);
    }

    [Fact]
    public void NormalisationStandardisesEachColumnOverTheSteps()
    {
        float[] values = [1f, 5f, 3f, 5f, 5f, 5f]; // [3, 2]; column 1 is constant
        AttentionAlignment.StandardiseColumns(values, 3, 2);
        float s = (float)Math.Sqrt(8.0 / 3);
        Assert.Equal(-2f / s, values[0], 5);
        Assert.Equal(0f, values[2], 5);
        Assert.Equal(2f / s, values[4], 5);
        Assert.Equal([0f, 0f, 0f], new[] { values[1], values[3], values[5] });
    }

    [Fact]
    public void MedianFilterTakesTheMiddleOfAMirroredWindow()
    {
        float[] values = [5f, 1f, 9f, 2f, 2f, 0f, 7f, 3f]; // two rows of 4
        MedianFilter.ApplyToRows(values, 2, 4, 3);
        // Row 0 mirrored: [1, 5,1,9,2, 9] → medians of (1,5,1) (5,1,9) (1,9,2) (9,2,9)
        Assert.Equal([1f, 5f, 2f, 9f], values[..4]);
        // Row 1 mirrored: [0, 2,0,7,3, 7] → (0,2,0) (2,0,7) (0,7,3) (7,3,7)
        Assert.Equal([0f, 2f, 3f, 7f], values[4..]);
    }

    [Fact]
    public void MedianFilterOfWidthOneChangesNothingAndEvenWidthsAreRefused()
    {
        float[] values = [3f, 1f, 2f];
        MedianFilter.ApplyToRows(values, 1, 3, 1);
        Assert.Equal([3f, 1f, 2f], values);
        Assert.Throws<ArgumentOutOfRangeException>(() => MedianFilter.ApplyToRows(values, 1, 3, 2));
    }

    [Theory]
    [InlineData(-1, 5, 1)]
    [InlineData(5, 5, 3)]
    [InlineData(-6, 5, 2)]
    [InlineData(9, 5, 1)]
    [InlineData(4, 1, 0)]
    public void MirrorFoldsIndicesWithoutRepeatingTheEdge(int index, int length, int expected) =>
        Assert.Equal(expected, MedianFilter.Mirror(index, length));

    private static void AssertMonotonicFromCornerToCorner((int Row, int Column)[] path, int lastRow, int lastColumn)
    {
        Assert.Equal((0, 0), path[0]);
        Assert.Equal((lastRow, lastColumn), path[^1]);
        for (int k = 1; k < path.Length; k++)
        {
            int dr = path[k].Row - path[k - 1].Row, dc = path[k].Column - path[k - 1].Column;
            Assert.True(dr is 0 or 1 && dc is 0 or 1 && dr + dc > 0, $"step {k}: ({dr}, {dc})");
        }
    }
}
