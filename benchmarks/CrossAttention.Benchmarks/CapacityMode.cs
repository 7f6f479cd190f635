using System.Globalization;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>
/// Sessions per GiB of Cache:SizeLimitBytes for common model sizes, per K/V dtype, as a markdown table on stdout. Each
/// figure comes from a real cache of that shape: a session's kvBytes is its layers' <see cref="KeyValueCache.Bytes"/>
/// (K/V regions, keep lanes, tile padding, alignment slack and size-class rounding; no mask, so every position kept).
/// </summary>
public static class CapacityMode
{
    private static readonly (string Name, int DModel, int Layers, int Heads)[] Models =
        [("whisper-base", 512, 6, 8), ("bart-large", 1024, 12, 16), ("t5-base", 768, 12, 12)];

    private static readonly int[] SourceLengths = [1500, 1024, 512];

    public static int Run()
    {
        var types = new[] { KeyValueElementType.Float32, KeyValueElementType.Float16, KeyValueElementType.BFloat16 };
        Console.WriteLine("| model (d, layers, heads) | m | " + string.Join(" | ", types.Select(t => $"{t.Name()} kvBytes | {t.Name()} sessions/GiB")) + " |");
        Console.WriteLine("|---|---:|" + string.Concat(types.Select(_ => "---:|---:|")));
        foreach (var (name, d, layers, heads) in Models)
            foreach (int m in SourceLengths)
            {
                var cells = new List<string>();
                float[] projected = new float[m * d]; // [m, heads·headDim]: the bytes do not depend on the values
                foreach (var type in types)
                {
                    using var cache = KeyValueCache.Create(projected, projected, m, heads, d / heads, default, elementType: type);
                    long sessionBytes = cache.Bytes * layers; // every layer's cache has the same shape
                    cells.Add(sessionBytes.ToString("N0", CultureInfo.InvariantCulture));
                    cells.Add(((1L << 30) / sessionBytes).ToString(CultureInfo.InvariantCulture));
                }
                Console.WriteLine($"| {name} ({d}, {layers}, {heads}) | {m} | {string.Join(" | ", cells)} |");
            }
        return 0;
    }
}
