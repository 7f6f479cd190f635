using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests;

public class DemoModelTests
{
    [Fact]
    public void DemoModelHasTheDefaultShape()
    {
        var model = DemoModel.Create();
        Assert.Equal(2, model.Layers.Count);
        Assert.Equal(4, model.Heads);
        Assert.Equal(16, model.HeadDim);
        Assert.Equal(64, model.QueryDim);
        Assert.Equal(0.25f, model.Scale);
    }

    [Fact]
    public void EncodeThenDecodeGivesFiniteOutputAndNormalisedAttention()
    {
        var model = DemoModel.Create();
        var random = new Random(1);
        const int m = 7, n = 2;
        var source = Enumerable.Range(0, m * 64).Select(_ => (float)random.NextDouble()).ToArray();
        var queries = Enumerable.Range(0, n * 64).Select(_ => (float)random.NextDouble()).ToArray();
        byte[] mask = [1, 1, 1, 1, 1, 0, 0];
        var encoded = model.Encode(source, m, mask, ComputeOptions.Default);
        var output = new float[n * 64];
        var attention = new float[4 * n * m];
        model.Layers[1].Decode(encoded.Layers[1], queries, n, output, attention, ComputeOptions.Default);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
        for (int row = 0; row < 4 * n; row++)
        {
            var p = attention.AsSpan(row * m, m);
            Assert.Equal(1.0, p.ToArray().Sum(), 5);
            Assert.Equal(0f, p[5]);
            Assert.Equal(0f, p[6]);
        }
    }
}
