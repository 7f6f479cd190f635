using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

public class KernelParallelTests
{
    private unsafe struct CountingBody : IParallelBody
    {
        public int* Counts;

        public readonly void Invoke(int index) => Interlocked.Increment(ref Counts[index]);
    }

    private struct ThrowingBody : IParallelBody
    {
        public readonly void Invoke(int index)
        {
            if (index == 3) throw new InvalidOperationException("item 3");
        }
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(7, 1)]
    [InlineData(64, 2)]
    [InlineData(1000, 8)]
    public unsafe void EveryIndexRunsExactlyOnce(int count, int maxThreads)
    {
        var counts = new int[Math.Max(count, 1)];
        fixed (int* p = counts)
        {
            for (int round = 0; round < 50; round++)
            {
                var body = new CountingBody { Counts = p };
                KernelParallel.For(count, maxThreads, ref body);
            }
        }
        for (int i = 0; i < count; i++) Assert.Equal(50, counts[i]);
    }

    [Fact]
    public unsafe void ConcurrentCallersAllFinishTheirOwnLoops()
    {
        const int callers = 4, count = 200;
        var counts = new int[callers * count];
        fixed (int* p = counts)
        {
            int* basePointer = p;
            Parallel.For(0, callers, caller =>
            {
                for (int round = 0; round < 20; round++)
                {
                    var body = new CountingBody { Counts = basePointer + caller * count };
                    KernelParallel.For(count, 2, ref body);
                }
            });
        }
        Assert.All(counts, c => Assert.Equal(20, c));
    }

    [Fact]
    public void AnExceptionInTheBodyReachesTheCaller()
    {
        var body = new ThrowingBody();
        var error = Assert.Throws<InvalidOperationException>(() => KernelParallel.For(16, 2, ref body));
        Assert.Equal("item 3", error.Message);
        // The loop is usable again afterwards.
        var counts = new int[8];
        unsafe
        {
            fixed (int* p = counts)
            {
                var counting = new CountingBody { Counts = p };
                KernelParallel.For(8, 2, ref counting);
            }
        }
        Assert.All(counts, c => Assert.Equal(1, c));
    }
}
