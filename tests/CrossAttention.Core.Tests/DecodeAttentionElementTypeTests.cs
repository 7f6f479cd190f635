using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>
/// The decode kernel over K/V cached as float32, bfloat16 or float16, every variant the CPU supports: against the double-precision reference run on the values the cache actually
/// holds (so the kernel itself is checked as tightly as the float32 one), and against the reference on the original
/// float32 K/V within the bounds the reduced-precision spec sets.
/// </summary>
public class DecodeAttentionElementTypeTests
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

    [Theory]
    [InlineData(Storage.Float32)]
    [InlineData(Storage.BFloat16)]
    [InlineData(Storage.Float16)]
    public void TheCacheHoldsTheRoundedValuesAndReadsThemBack(Storage storage)
    {
        var shape = new Shape(37, 19, 1, 3);
        var data = Data.Random(shape, new Random(5), maskPadding: false, keyMagnitude: 3f);
        using var cache = Cache(storage, shape, data);
        Assert.Equal(RoundTrip(storage, data.Keys), cache.Layout.ReadKeys(cache.KeyRegion));
        Assert.Equal(RoundTrip(storage, data.Values), cache.Layout.ReadValues(cache.ValueRegion));
    }

    [Theory]
    [InlineData(Storage.Float16, 65504f, false)]   // the largest float16
    [InlineData(Storage.Float16, 65519f, false)]   // rounds down to it
    [InlineData(Storage.Float16, 65520f, true)]    // rounds to Inf
    [InlineData(Storage.Float16, -1e6f, true)]
    [InlineData(Storage.BFloat16, 1e38f, false)]   // bfloat16 has float32's range
    [InlineData(Storage.Float32, 1e38f, false)]
    public void ValuesThatOverflowTheElementTypeAreReported(Storage storage, float large, bool overflows)
    {
        var shape = new Shape(20, 5, 1, 2);
        var data = Data.Random(shape, new Random(9), maskPadding: false);
        data.Values[37] = large;
        using (var cache = Cache(storage, shape, data)) Assert.Equal(overflows, cache.HoldsNonFiniteValues());
        data.Values[37] = 0;
        data.Keys[101] = large;
        using (var cache = Cache(storage, shape, data)) Assert.Equal(overflows, cache.HoldsNonFiniteValues());
    }

    [Theory]
    [MemberData(nameof(KernelVariantCases))]
    public void AFloat16CacheHoldingInfinityDecodesAsTheReferenceDoes(KernelVariant variant)
    {
        // Finite float16 caches take a cheaper read that would turn Inf into a finite number: this one must not.
        var shape = new Shape(40, 16, 1, 2);
        var data = Data.Random(shape, new Random(13), maskPadding: false);
        data.Values[shape.M * shape.HeadDim + 5] = 1e6f;   // head 1 overflows to +Inf in float16
        var result = Run(Storage.Float16, variant, maxThreads: 1, shape, data, withAttention: false);
        var expected = Reference(shape, data.Queries, RoundTrip(Storage.Float16, data.Keys), RoundTrip(Storage.Float16, data.Values), data.Mask);
        for (int i = 0; i < result.Context.Length; i++)
            Assert.Equal(float.IsFinite(expected.Context[i]), float.IsFinite(result.Context[i]));
        Assert.Contains(result.Context, value => !float.IsFinite(value));
    }

    public static TheoryData<KernelVariant> KernelVariantCases() => new(KernelVariants.Supported);

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

    private static Output Run(Storage storage, KernelVariant variant, int maxThreads, Shape shape, Data data, bool withAttention)
    {
        using var cache = Cache(storage, shape, data);
        var context = new float[shape.N * shape.Heads * shape.HeadDim];
        var attention = withAttention ? new float[shape.Heads * shape.N * shape.M] : [];
        DecodeAttention.Compute(data.Queries, shape.N, cache.View, 1f / MathF.Sqrt(shape.HeadDim), context, attention,
            variant, maxThreads);
        return new Output(context, attention);
    }

    private static KeyValueElementType ElementType(Storage storage) => storage switch
    {
        Storage.BFloat16 => KeyValueElementType.BFloat16,
        Storage.Float16 => KeyValueElementType.Float16,
        _ => KeyValueElementType.Float32,
    };

    // The cache takes projected K/V as [m, heads·headDim]; the test data is [heads, m, headDim].
    private static KeyValueCache Cache(Storage storage, Shape shape, Data data) =>
        KeyValueCache.Create(Projected(shape, data.Keys), Projected(shape, data.Values), shape.M, shape.Heads,
            shape.HeadDim, data.Mask, elementType: ElementType(storage));

    private static float[] Projected(Shape shape, float[] perHead)
    {
        var projected = new float[perHead.Length];
        for (int h = 0; h < shape.Heads; h++)
            for (int j = 0; j < shape.M; j++)
                Array.Copy(perHead, (h * shape.M + j) * shape.HeadDim, projected, (j * shape.Heads + h) * shape.HeadDim, shape.HeadDim);
        return projected;
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
