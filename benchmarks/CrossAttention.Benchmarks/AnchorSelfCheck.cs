using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// Guards the numbers against a fast but wrong engine: Encode + Decode through CrossAttentionLayer, with the options
/// being benchmarked, against LinearReference and AttentionReference in double precision.
/// </summary>
public static class AnchorSelfCheck
{
    // Float32 kernels (FMA, reordered sums, vector exp) against a double reference: relative to the largest value,
    // with a floor because outputs of 0.02-scale weights are small.
    private const double RelativeTolerance = 1e-4;
    private const double AbsoluteFloor = 1e-5;

    public static bool Run(ComputeOptions options)
    {
        bool pass = true;
        // Small and odd: m and n not multiples of any vector width, padded positions in the mask.
        pass &= Check("small n=3 m=37 d=64 h=4 masked", n: 3, m: 37, d: 64, heads: 4, masked: true, options);
        // Beam-sized n with a realistic head size and a tail after the vector loop.
        pass &= Check("beam n=8 m=300 d=512 h=8", n: 8, m: 300, d: 512, heads: 8, masked: false, options);
        return pass;
    }

    private static bool Check(string what, int n, int m, int d, int heads, bool masked, ComputeOptions options)
    {
        var random = new Random(7);
        var (layer, weights) = AnchorData.Layer(random, d, heads);
        float[] source = AnchorData.Normal(random, m * d, 1f);    // [m, d]
        float[] queries = AnchorData.Normal(random, n * d, 1f);   // [n, d]
        byte[] mask = [];
        if (masked)
        {
            mask = new byte[m];
            for (int j = 0; j < m; j++) mask[j] = (byte)(j % 7 == 3 ? 0 : 1);
        }
        int headDim = d / heads;

        float[] output = new float[n * d];
        float[] attention = new float[heads * n * m];
        KeyValueCache cache = layer.Encode(source, m, mask, options);
        layer.Decode(cache, queries, n, output, attention, options);

        var (expectedOutput, expectedAttention) = Reference(weights, source, queries, mask, n, m, d, heads, headDim, layer.Scale);

        bool ok = true;
        ok &= Compare($"{what}: output", output, expectedOutput);
        ok &= Compare($"{what}: attention", attention, expectedAttention);
        return ok;
    }

    private static (float[] Output, float[] Attention) Reference(LayerWeights w, float[] source, float[] queries, byte[] mask,
        int n, int m, int d, int heads, int headDim, float scale)
    {
        var k = new float[m * d];   // [m, heads·headDim]
        var v = new float[m * d];
        var q = new float[n * d];
        LinearReference.Apply(source, m, d, w.Key.Weight, d, w.Key.Bias, k);
        LinearReference.Apply(source, m, d, w.Value.Weight, d, w.Value.Bias, v);
        LinearReference.Apply(queries, n, d, w.Query.Weight, d, w.Query.Bias, q);

        var kHeads = new float[m * d];   // [heads, m, headDim]
        var vHeads = new float[m * d];
        for (int j = 0; j < m; j++)
        {
            for (int h = 0; h < heads; h++)
            {
                k.AsSpan(j * d + h * headDim, headDim).CopyTo(kHeads.AsSpan((h * m + j) * headDim));
                v.AsSpan(j * d + h * headDim, headDim).CopyTo(vHeads.AsSpan((h * m + j) * headDim));
            }
        }

        var context = new float[n * d];
        var attention = new float[heads * n * m];
        AttentionReference.Compute(q, n, kHeads, vHeads, heads, m, headDim, mask, scale, context, attention);
        var output = new float[n * d];
        LinearReference.Apply(context, n, d, w.Output.Weight, d, w.Output.Bias, output);
        return (output, attention);
    }

    private static bool Compare(string what, float[] actual, float[] expected)
    {
        double maxDiff = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(diff)) { maxDiff = double.NaN; break; }
            maxDiff = Math.Max(maxDiff, diff);
            maxAbs = Math.Max(maxAbs, Math.Abs(expected[i]));
        }
        double tolerance = Math.Max(RelativeTolerance * maxAbs, AbsoluteFloor);
        bool ok = maxDiff <= tolerance;
        Console.Error.WriteLine($"self-check {(ok ? "PASS" : "FAIL")}: {what}: max|diff| = {maxDiff:E2} (tol {tolerance:E1})");
        return ok;
    }
}
