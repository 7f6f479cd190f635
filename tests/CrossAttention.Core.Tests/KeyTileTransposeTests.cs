using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Projected keys into key tiles: every variant this CPU runs against the scalar reference, the reference against the
/// layout's definition, and the cache's parallel build (one item per head) against its serial one.
/// </summary>
public unsafe class KeyTileTransposeTests
{
    // (m, heads, headDim): full tiles only, a short last tile, fewer than 16 positions, head widths that are not a
    // multiple of 16 (the 16×16 blocks leave columns to the scalar copy) and narrower than 16.
    public static TheoryData<KernelVariant, int, int, int> Shapes()
    {
        var data = new TheoryData<KernelVariant, int, int, int>();
        foreach (var variant in KernelVariants.Supported)
            foreach (var (m, heads, headDim) in new[] { (48, 4, 32), (37, 3, 64), (5, 2, 16), (100, 2, 72), (33, 3, 8), (1, 1, 1) })
                data.Add(variant, m, heads, headDim);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryVariantWritesTheReferenceTilesForAnyRangeOfHeads(KernelVariant variant, int m, int heads, int headDim)
    {
        float[] source = Projected(m, heads, headDim, seed: m * 31 + heads * 7 + headDim);
        int tiles = (m + 15) / 16, headElements = tiles * headDim * 16;
        foreach (var (start, end) in new[] { (0, heads), (heads - 1, heads), (0, 1) })
        {
            float[] expected = Filled((end - start) * headElements), actual = Filled((end - start) * headElements);
            fixed (float* s = source, e = expected, a = actual)
            {
                KeyTileTranspose.TransposeScalar(s, e, m, heads, headDim, start, end);
                KeyTileTranspose.Transpose(s, a, m, heads, headDim, start, end, variant);
            }
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [InlineData(37, 3, 64)]
    [InlineData(16, 2, 16)]
    [InlineData(3, 1, 5)]
    public void TheReferenceWritesTheLayoutsDefinitionAndZeroesPastTheSource(int m, int heads, int headDim)
    {
        float[] source = Projected(m, heads, headDim, seed: 5);
        int tiles = (m + 15) / 16, inner = heads * headDim;
        float[] tiled = Filled(heads * tiles * headDim * 16);
        fixed (float* s = source, t = tiled) KeyTileTranspose.TransposeScalar(s, t, m, heads, headDim, 0, heads);

        for (int h = 0; h < heads; h++)
            for (int j = 0; j < tiles * 16; j++)
                for (int c = 0; c < headDim; c++)
                {
                    float stored = tiled[((h * tiles + j / 16) * headDim + c) * 16 + j % 16]; // [heads, tiles, headDim, 16]
                    Assert.Equal(j < m ? source[j * inner + h * headDim + c] : 0f, stored);
                }
    }

    [Theory]
    [InlineData(KeyValueElementType.Float32)]
    [InlineData(KeyValueElementType.Float16)]
    [InlineData(KeyValueElementType.BFloat16)]
    public void TheParallelBuildOfACacheWritesTheSameBytesAsTheSerialOne(KeyValueElementType elementType)
    {
        // Large enough (509·4·40 floats, 318 KiB of K) that two threads build it, one item per head of K and of V.
        int m = 509, heads = 4, headDim = 40;
        float[] keys = Projected(m, heads, headDim, seed: 1), values = Projected(m, heads, headDim, seed: 2);
        var mask = Enumerable.Range(0, m).Select(j => (byte)(j % 7 == 3 ? 0 : 1)).ToArray();

        using var serial = KeyValueCache.Create(keys, values, m, heads, headDim, mask, elementType: elementType, maxThreads: 1);
        using var parallel = KeyValueCache.Create(keys, values, m, heads, headDim, mask, elementType: elementType, maxThreads: 2);

        Assert.Equal(serial.KeyRegion.ToArray(), parallel.KeyRegion.ToArray());
        Assert.Equal(serial.ValueRegion.ToArray(), parallel.ValueRegion.ToArray());
        Assert.Equal(serial.KeepRegion.ToArray(), parallel.KeepRegion.ToArray());
    }

    private static float[] Projected(int m, int heads, int headDim, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, m * heads * headDim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    // NaN everywhere first, so an element a variant forgets to write cannot pass for a zero.
    private static float[] Filled(int length) => Enumerable.Repeat(float.NaN, length).ToArray();
}
