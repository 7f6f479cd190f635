using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>K/V buffers are recycled only when no reader can see them, and a recycled cache refuses to be read.</summary>
public class CacheLifetimeTests
{
    private static KeyValueCache Cache(int m = 40, int heads = 2, int headDim = 8)
    {
        var random = new Random(m);
        var k = Enumerable.Range(0, m * heads * headDim).Select(_ => (float)random.NextDouble()).ToArray();
        var v = Enumerable.Range(0, m * heads * headDim).Select(_ => (float)random.NextDouble()).ToArray();
        return KeyValueCache.Create(k, v, m, heads, headDim, default);
    }

    [Fact]
    public void DisposedCacheCannotBeRead()
    {
        var cache = Cache();
        cache.Dispose();
        Assert.True(cache.IsDisposed);
        var q = new float[16];
        Assert.Throws<ObjectDisposedException>(() =>
            DecodeAttention.Compute(q, 1, cache.View, 1f, new float[16], default, KernelVariants.Best));
    }

    [Fact]
    public void EncodedSourceWaitsForTheLastLeaseBeforeRecycling()
    {
        var layers = new[] { Cache(), Cache(17) };
        var source = new EncodedSource("m", layers);
        Assert.True(source.TryAcquire());
        source.Dispose();                                   // the session ends while a step is reading
        Assert.All(layers, l => Assert.False(l.IsDisposed));
        Assert.False(source.TryAcquire());                  // no new reader after the end
        source.Release();                                   // the step finishes
        Assert.All(layers, l => Assert.True(l.IsDisposed));
        source.Dispose();                                   // a second dispose changes nothing
    }

    [Fact]
    public void EncodedSourceWithoutReadersRecyclesAtDispose()
    {
        var layers = new[] { Cache() };
        var source = new EncodedSource("m", layers);
        source.Dispose();
        Assert.True(layers[0].IsDisposed);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(9L)]
    [InlineData(16_000L)]
    [InlineData(16_385L)]
    [InlineData(786_448L)]
    [InlineData(1_000_001L)]
    public void SizeClassesWasteAtMostAnEighth(long length)
    {
        long size = KeyValueBufferPool.SizeClass(length);
        Assert.True(size >= length);
        Assert.True(size <= length + length / 8 + 1, $"{length} → {size}");
        Assert.Equal(size, KeyValueBufferPool.SizeClass(size)); // a class is its own class, so returned buffers match
    }

    [Fact]
    public void RecycledBuffersHoldTheNewCachesData()
    {
        // Same shape twice: the second cache gets the first one's buffers, and must still read as its own data.
        var pool = new KeyValueBufferPool(limitBytes: 1L << 20);
        var random = new Random(5);
        var k = Enumerable.Range(0, 300 * 64).Select(_ => (float)random.NextDouble()).ToArray();
        var v = Enumerable.Range(0, 300 * 64).Select(_ => (float)random.NextDouble()).ToArray();
        KeyValueCache.Create(v, k, 300, 4, 16, default, pool).Dispose();
        Assert.True(pool.PooledBytes > 0);
        using var second = KeyValueCache.Create(k, v, 300, 4, 16, default, pool);
        Assert.Equal(0, pool.PooledBytes); // it took them all back out
        var keys = second.LogicalKeys();
        for (int h = 0; h < 4; h++)
            for (int j = 0; j < 300; j++)
                for (int c = 0; c < 16; c++)
                    Assert.Equal(k[j * 64 + h * 16 + c], keys[(h * 300 + j) * 16 + c]);
    }

    [Fact]
    public void EachPoolKeepsUpToItsOwnLimitAndReportsWhatItHolds()
    {
        var keeping = new KeyValueBufferPool(limitBytes: 1L << 20);
        var refusing = new KeyValueBufferPool(limitBytes: 0);
        var random = new Random(3);
        var kv = Enumerable.Range(0, 300 * 64).Select(_ => (float)random.NextDouble()).ToArray();

        var kept = KeyValueCache.Create(kv, kv, 300, 4, 16, default, keeping);
        var refused = KeyValueCache.Create(kv, kv, 300, 4, 16, default, refusing);
        // The keep lanes' buffer is too small to be worth pooling; the K and V buffers come back whole.
        long pooledBytes = kept.Bytes - KeyValueBufferPool.SizeClass(kept.Layout.KeepBytes + KeyValueLayout.Alignment);
        kept.Dispose();
        refused.Dispose();
        kept.Dispose(); // a second dispose returns nothing twice

        Assert.Equal(0, refusing.PooledBytes);
        Assert.Equal(pooledBytes, keeping.PooledBytes);
    }
}
