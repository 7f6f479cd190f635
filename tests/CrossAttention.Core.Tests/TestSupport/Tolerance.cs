namespace CrossAttention.Core.Tests.TestSupport;

internal static class Tolerance
{
    /// <summary>Fails naming the worst index when any |expected − actual| exceeds <paramref name="tolerance"/>.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            if (double.IsNaN(diff)) diff = double.PositiveInfinity;
            if (diff > worst || worstIndex < 0) { worst = diff; worstIndex = i; }
        }
        Assert.True(worst <= tolerance,
            $"{what}: max |diff| {worst:E3} at index {worstIndex} (expected {expected[worstIndex]}, got {actual[worstIndex]}) exceeds {tolerance:E1}");
    }

    public static void AssertClose(float[] expected, float[] actual, double tolerance, string what) =>
        AssertClose(Array.ConvertAll(expected, v => (double)v), actual, tolerance, what);

    public static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}
