using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// The narrow-K/V decode prototype: against the double-precision reference run on the values the cache actually
/// holds (so the kernel itself is checked as tightly as the float32 one), and against the reference on the original
/// float32 K/V within the bounds the reduced-precision spec sets.
/// </summary>
public class DecodeAttentionNarrowTests
{
    public enum Storage { Float32, BFloat16, Float16 }

    public static TheoryData<KernelVariant, Storage, int> Cases()
    {
        var data = new TheoryData<KernelVariant, Storage, int>();
        foreach (var variant in KernelVariants.Supported)
            foreach (var storage in Enum.GetValues<Storage>())
                data.Add(variant, storage, variant == KernelVariant.Vector128 ? 2 : 1);
        return data;
    }

    private static readonly int[] SourceLengths = [1, 2, 15, 16, 17, 33, 64, 100, 257];
    private static readonly int[] HeadDims = [1, 3, 7, 16, 17, 33, 64, 80];

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnTheStoredValues(KernelVariant variant, Storage storage, int maxThreads)
    {
        var random = new Random(31 + (int)variant * 3 + (int)storage);
        foreach (int m in SourceLengths)
            foreach (int headDim in HeadDims)
            {
                var shape = new Shape(m, headDim, N: random.Next(1, 6), Heads: random.Next(1, 4));
                var data = Data.Random(shape, random, maskPadding: random.Next(2) == 0);
                var result = Run(storage, variant, maxThreads, shape, data, withAttention: random.Next(2) == 0);

                // The reference sees exactly what the cache stores.
                var expected = Reference(shape, data.Queries, RoundTrip(storage, data.Keys), RoundTrip(storage, data.Values), data.Mask);
                string what = $"{variant} {storage} m={m} headDim={headDim} n={shape.N} heads={shape.Heads}";
                AssertWithin(expected.Context, result.Context, 1e-5 * (1 + data.Values.Max(MathF.Abs)), what + " context");
                if (result.Attention.Length > 0) AssertWithin(expected.Attention, result.Attention, 2e-6, what + " attention");
                AssertPaddingIsZero(result.Attention, data.Mask, shape, what);
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StaysWithinTheReducedPrecisionBoundsAtModelShapes(KernelVariant variant, Storage storage, int maxThreads)
    {
        // The bounds of the spec: output relative to max|expected|, weights absolute; float32 as tight as its kernel.
        (double output, double weights) = storage switch
        {
            Storage.Float16 => (2e-3, 5e-3),
            Storage.BFloat16 => (2e-2, 3e-2),
            _ => (1e-5, 2e-6),
        };
        var random = new Random(77);
        foreach (var shape in new[] { new Shape(1500, 64, 1, 8), new Shape(1024, 64, 4, 16), new Shape(512, 64, 2, 12), new Shape(300, 80, 3, 4) })
        {
            var data = Data.Random(shape, random, maskPadding: true, keyMagnitude: 2f);
            var result = Run(storage, variant, maxThreads, shape, data, withAttention: true);
            var expected = Reference(shape, data.Queries, data.Keys, data.Values, data.Mask);
            string what = $"{variant} {storage} m={shape.M} headDim={shape.HeadDim} n={shape.N}";
            AssertWithin(expected.Context, result.Context, output * expected.Context.Max(Math.Abs), what + " context");
            AssertWithin(expected.Attention, result.Attention, weights, what + " attention");
        }
    }

    [Fact]
    public void ShortBuffersAreRejected()
    {
        var shape = new Shape(20, 8, 1, 2);
        var data = Data.Random(shape, new Random(1), maskPadding: false);
        var (keys, values, keep) = Pack<BFloat16Element, ushort>(shape, data);
        var context = new float[shape.N * shape.Heads * shape.HeadDim];
        Assert.Throws<ArgumentException>(() => DecodeAttentionNarrow.Compute<BFloat16Element, ushort>(data.Queries, 1,
            keys.AsSpan(1), values, keep, shape.Heads, shape.M, shape.HeadDim, 0.5f, context, [], KernelVariants.Best));
        Assert.Throws<ArgumentException>(() => DecodeAttentionNarrow.Compute<BFloat16Element, ushort>(data.Queries, 1,
            keys, values.AsSpan(1), keep, shape.Heads, shape.M, shape.HeadDim, 0.5f, context, [], KernelVariants.Best));
        Assert.Throws<ArgumentException>(() => DecodeAttentionNarrow.Compute<BFloat16Element, ushort>(data.Queries, 1,
            keys, values, keep.AsSpan(1), shape.Heads, shape.M, shape.HeadDim, 0.5f, context, [], KernelVariants.Best));
        Assert.Throws<ArgumentException>(() => DecodeAttentionNarrow.Compute<BFloat16Element, ushort>(data.Queries, 1,
            keys, values, keep, shape.Heads, shape.M, shape.HeadDim, 0.5f, context.AsSpan(1), [], KernelVariants.Best));
    }

    // ---- helpers ----

    private sealed record Shape(int M, int HeadDim, int N, int Heads);

    private sealed record Data(float[] Queries, float[] Keys, float[] Values, byte[] Mask)
    {
        /// <summary>Keys and values [heads, m, headDim]; queries [n, heads·headDim]; mask [m] (empty: keep all).</summary>
        public static Data Random(Shape shape, Random random, bool maskPadding, float keyMagnitude = 1f)
        {
            int logical = shape.Heads * shape.M * shape.HeadDim;
            float[] Fill(int length, float magnitude)
            {
                var values = new float[length];
                for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * magnitude;
                return values;
            }
            byte[] mask = [];
            if (maskPadding)
            {
                mask = new byte[shape.M];
                for (int j = 0; j < shape.M; j++) mask[j] = (byte)(random.Next(4) == 0 ? 0 : 1);
                mask[random.Next(shape.M)] = 1;
            }
            return new Data(Fill(shape.N * shape.Heads * shape.HeadDim, keyMagnitude), Fill(logical, keyMagnitude), Fill(logical, 1f), mask);
        }
    }

    private sealed record Output(float[] Context, float[] Attention);

    private static Output Run(Storage storage, KernelVariant variant, int maxThreads, Shape shape, Data data, bool withAttention) =>
        storage switch
        {
            Storage.Float32 => Run<Float32Element, float>(variant, maxThreads, shape, data, withAttention),
            Storage.BFloat16 => Run<BFloat16Element, ushort>(variant, maxThreads, shape, data, withAttention),
            _ => Run<Float16Element, ushort>(variant, maxThreads, shape, data, withAttention),
        };

    private static Output Run<TElement, TStorage>(KernelVariant variant, int maxThreads, Shape shape, Data data, bool withAttention)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        var (keys, values, keep) = Pack<TElement, TStorage>(shape, data);
        var context = new float[shape.N * shape.Heads * shape.HeadDim];
        var attention = withAttention ? new float[shape.Heads * shape.N * shape.M] : [];
        DecodeAttentionNarrow.Compute<TElement, TStorage>(data.Queries, shape.N, keys, values, keep, shape.Heads, shape.M,
            shape.HeadDim, 1f / MathF.Sqrt(shape.HeadDim), context, attention, variant, maxThreads);
        return new Output(context, attention);
    }

    // The cache's layouts: K tiles [heads, tiles, headDim, 16] (zero past m), V rows [heads, m, headDim], keep lanes [tiles·16].
    private static (TStorage[] Keys, TStorage[] Values, float[] Keep) Pack<TElement, TStorage>(Shape shape, Data data)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
    {
        int tiles = (shape.M + 15) / 16;
        var keyTiles = new TStorage[shape.Heads * tiles * shape.HeadDim * 16];
        for (int h = 0; h < shape.Heads; h++)
            for (int j = 0; j < shape.M; j++)
                for (int d = 0; d < shape.HeadDim; d++)
                    keyTiles[((h * tiles + j / 16) * shape.HeadDim + d) * 16 + j % 16] =
                        TElement.FromSingle(data.Keys[(h * shape.M + j) * shape.HeadDim + d]);
        var values = new TStorage[data.Values.Length];
        TElement.Narrow(data.Values, values, KernelVariants.Best);
        var keep = new float[tiles * 16];
        for (int j = 0; j < shape.M; j++)
            keep[j] = data.Mask.Length == 0 || data.Mask[j] != 0 ? BitConverter.UInt32BitsToSingle(uint.MaxValue) : 0f;
        return (keyTiles, values, keep);
    }

    private static float[] RoundTrip(Storage storage, float[] values) => storage switch
    {
        Storage.Float32 => values,
        Storage.BFloat16 => Array.ConvertAll(values, v => BFloat16Widening.WidenReference(BFloat16Narrowing.NarrowReference(v))),
        _ => Array.ConvertAll(values, v => Float16Widening.WidenReference(Float16Narrowing.NarrowReference(v))),
    };

    private static Output Reference(Shape shape, float[] queries, float[] keys, float[] values, byte[] mask)
    {
        var context = new float[shape.N * shape.Heads * shape.HeadDim];
        var attention = new float[shape.Heads * shape.N * shape.M];
        AttentionReference.Compute(queries, shape.N, keys, values, shape.Heads, shape.M, shape.HeadDim, mask,
            1f / MathF.Sqrt(shape.HeadDim), context, attention);
        return new Output(context, attention);
    }

    private static void AssertWithin(float[] expected, float[] actual, double tolerance, string what)
    {
        double worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            if (!(diff <= worst)) { worst = diff; at = i; }
        }
        Assert.True(worst <= tolerance, $"{what}: |diff| {worst:E3} at {at} (expected {expected[at]}, got {actual[at]}) exceeds {tolerance:E2}");
    }

    private static void AssertPaddingIsZero(float[] attention, byte[] mask, Shape shape, string what)
    {
        if (attention.Length == 0 || mask.Length == 0) return;
        for (int row = 0; row < shape.Heads * shape.N; row++)
            for (int j = 0; j < shape.M; j++)
                if (mask[j] == 0 && attention[row * shape.M + j] != 0f) Assert.Fail($"{what}: padded attention[{row}, {j}] is not 0");
    }
}
