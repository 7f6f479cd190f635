using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Tests;

/// <summary>The K/V memory format: region sizes per element type, and caches that travel as bytes.</summary>
public class KeyValueLayoutTests
{
    [Fact]
    public void ACacheRebuiltFromItsByteRegionsDecodesIdentically()
    {
        var model = DemoModel.Create(layers: 2);
        var layer = model.Layers[1];
        var random = new Random(11);
        int m = 37, n = 2;
        var source = Enumerable.Range(0, m * model.SourceDim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var queries = Enumerable.Range(0, n * model.QueryDim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var mask = Enumerable.Range(0, m).Select(j => (byte)(j % 5 == 2 ? 0 : 1)).ToArray();

        using var original = layer.Encode(source, m, mask, ComputeOptions.Default);
        // What a shared store would keep: the layout and three byte strings, copied out of the cache's memory.
        var layout = original.Layout;
        byte[] keys = original.KeyRegion.ToArray(), values = original.ValueRegion.ToArray(), keep = original.KeepRegion.ToArray();
        using var loaded = KeyValueCache.Load(layout, keys, values, keep, new KeyValueBufferPool(1L << 20));

        foreach (var variant in KernelVariants.Supported)
        {
            var options = new ComputeOptions(variant, 1);
            float[] expected = new float[n * model.QueryDim], actual = new float[expected.Length];
            float[] expectedWeights = new float[model.Heads * n * m], actualWeights = new float[expectedWeights.Length];
            layer.Decode(original, queries, n, expected, expectedWeights, options);
            layer.Decode(loaded, queries, n, actual, actualWeights, options);
            Assert.Equal(expected, actual);
            Assert.Equal(expectedWeights, actualWeights);
        }
    }

    [Fact]
    public void LoadRefusesRegionsOfAnotherSize()
    {
        var layout = new KeyValueLayout(heads: 2, sourceLength: 20, headDim: 8);
        byte[] keys = new byte[layout.KeyBytes], values = new byte[layout.ValueBytes], keep = new byte[layout.KeepBytes];
        Assert.Throws<ArgumentException>(() => KeyValueCache.Load(layout, keys.AsSpan(1), values, keep));
        Assert.Throws<ArgumentException>(() => KeyValueCache.Load(layout, keys, values, keep.AsSpan(4)));
        using var cache = KeyValueCache.Load(layout, keys, values, keep);
        Assert.Equal(layout, cache.Layout);
    }

    [Theory]
    [InlineData(KeyValueElementType.Float32, 4)]
    [InlineData(KeyValueElementType.Float16, 2)]
    [InlineData(KeyValueElementType.BFloat16, 2)]
    public void RegionsScaleWithTheElementSizeExceptTheKeepLanes(KeyValueElementType elementType, int elementSize)
    {
        var layout = new KeyValueLayout(heads: 3, sourceLength: 33, headDim: 8, elementType);
        Assert.Equal(elementSize, layout.ElementSize);
        Assert.Equal(3, layout.Tiles);                                                     // ceil(33 / 16)
        Assert.Equal(3L * 3 * 8 * KeyValueLayout.TileWidth * elementSize, layout.KeyBytes); // [heads, tiles, headDim, 16]
        Assert.Equal((3L * 33 * 8 + KeyValueLayout.ValuePadding) * elementSize, layout.ValueBytes);
        Assert.Equal(3L * KeyValueLayout.TileWidth * sizeof(uint), layout.KeepBytes);        // float32 lane masks always
    }

    [Fact]
    public void NarrowElementTypesAreWrittenRoundedToNearestEvenAndUnknownTypesRefused()
    {
        var layout = new KeyValueLayout(heads: 1, sourceLength: 4, headDim: 2, KeyValueElementType.BFloat16);
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 in bfloat16: it goes to the even one, 1.
        float[] projected = [1f + 1f / 256, 3f, -2.5f, 0f, 65536f, 1e-3f, -7f, 0.1f]; // [m 4, heads·headDim 2]
        var region = new byte[layout.KeyBytes];
        layout.WriteKeys(projected, region);
        float[] keys = layout.ReadKeys(region); // [heads 1, m 4, headDim 2]
        for (int i = 0; i < projected.Length; i++)
            Assert.Equal(BFloat16Widening.WidenReference(BFloat16Narrowing.NarrowReference(projected[i])), keys[i]);
        Assert.Equal(1f, keys[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KeyValueLayout(1, 4, 2, (KeyValueElementType)7));
    }
}
