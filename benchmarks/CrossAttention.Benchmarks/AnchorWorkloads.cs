using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Benchmarks;

/// <summary>One anchor workload: Setup builds its data (untimed) and returns the step to time.</summary>
public sealed record AnchorWorkload(string Name, string Kind, double Flops, double Bytes, string BytesMeaning,
    Func<ComputeOptions, Action> Setup, string? Note = null);

/// <summary>
/// The libtorch anchor's cross-attention workloads, with the same names, shapes, flop and byte counts, run through
/// CrossAttentionLayer. Batch 1, float32; every decode workload also with float16 and bfloat16 K/V AND weights (the
/// names' -f16 and -bf16 suffixes, same timing rules; K/V and weights counted at 2 bytes per element, biases at 4).
/// Every output buffer is allocated in Setup, so the timed step allocates only
/// what the engine itself allocates (Encode returns a new cache by design).
/// </summary>
public static class AnchorWorkloads
{
    private const double F32 = sizeof(float);
    private const long PoolBytes = 256L << 20;

    // Same formulas as the anchor: 2·M·N·K per linear, 4·n·m·d for attention (QKᵀ and PV).
    private static double DecodeFlops(int n, int m, int d) => 4.0 * n * d * d + 4.0 * n * m * d;
    // Wq and Wo, and the cached K and V, in the workload's element type; the two biases are float32 whatever it is.
    private static double DecodeBytes(int m, int d, KeyValueElementType type = KeyValueElementType.Float32) =>
        type.Size() * 2.0 * d * d + F32 * 2 * d + type.Size() * 2.0 * m * d;

    // The element types every decode workload runs with (K/V and weights alike), and the name suffix each adds.
    private static readonly (KeyValueElementType Type, string Suffix)[] KeyValueTypes =
        [(KeyValueElementType.Float32, ""), (KeyValueElementType.Float16, "-f16"), (KeyValueElementType.BFloat16, "-bf16")];

    private static string? NoteFor(KeyValueElementType type, string? note) => type == KeyValueElementType.Float32 ? note
        : (note is null ? "" : note + "; ") + $"K/V and the q, k, v, o weights stored as {type.Name()} (biases float32)";

    public static IReadOnlyList<AnchorWorkload> All { get; } = Build();

    /// <summary>The workloads named in <paramref name="only"/> (all when null), in the anchor's order; an error naming
    /// any that do not exist.</summary>
    public static IReadOnlyList<AnchorWorkload> Select(IReadOnlySet<string>? only, out string? error)
    {
        error = null;
        if (only is null) return All;
        var unknown = only.Where(name => All.All(w => w.Name != name)).ToList();
        if (unknown.Count > 0)
        {
            error = $"unknown workload(s): {string.Join(", ", unknown)} (see anchor --list)";
            return [];
        }
        return All.Where(w => only.Contains(w.Name)).ToList();
    }

    private static List<AnchorWorkload> Build()
    {
        var list = new List<AnchorWorkload>();

        void Encode(string name, int m, int d, int heads)
        {
            double flops = 2 * (2.0 * m * d * d);
            double bytes = F32 * (2.0 * d * d + 2 * d + m * d + 2.0 * m * d);
            list.Add(new AnchorWorkload(name, "encode", flops, bytes, "Wk,Wv,b + H read + K,V written", options =>
            {
                var random = new Random(AnchorData.Seed);
                var (layer, _) = AnchorData.Layer(random, d, heads);
                float[] source = AnchorData.Normal(random, m * d, 1f);   // [m, d]
                // As in the service: the cache's buffers come from the pool and go back to it when a session ends, so
                // an encode writes into memory already touched. Without it every encode first-touches fresh pages,
                // and a page fault costs ~13 µs on a Firecracker VM (docs/benchmarks.md), a third of this workload.
                var pool = new KeyValueBufferPool(PoolBytes);
                return () => layer.Encode(source, m, default, options, pool).Dispose();
            }, "CrossAttentionLayer.Encode: K and V projections with bias AND the build of the per-head cache layout " +
               "(the anchor's split into heads is a free view, so ours does more work than it)"));
        }

        void Decode(string name, int n, int m, int d, int heads, bool withWeights = false, string? note = null)
        {
            foreach (var (kv, suffix) in KeyValueTypes)
            {
                list.Add(new AnchorWorkload(name + suffix, withWeights ? "decode+weights" : "decode", DecodeFlops(n, m, d),
                    DecodeBytes(m, d, kv), $"Wq,Wo ({kv.Name()}),b + cached K,V ({kv.Name()}) read", options =>
                {
                    var random = new Random(AnchorData.Seed);
                    var (layer, _) = AnchorData.Layer(random, d, heads, kv);
                    KeyValueCache cache = layer.Encode(AnchorData.Normal(random, m * d, 1f), m, default, options, elementType: kv);
                    float[] queries = AnchorData.Normal(random, n * d, 1f);                    // [n, d]
                    float[] output = new float[n * d];                                          // [n, d]
                    float[] attention = withWeights ? new float[heads * n * m] : [];             // [heads, n, m]
                    return () => layer.Decode(cache, queries, n, output, attention, options);
                }, NoteFor(kv, note)));
            }
        }

        // Cycles through one layer set (weights + K/V) per decoder layer so the working set exceeds L3; time is per layer.
        void DecodeCold(string name, int m, int d, int heads, int layers)
        {
            foreach (var (kv, suffix) in KeyValueTypes)
            {
                list.Add(new AnchorWorkload(name + suffix, "decode-cold", DecodeFlops(1, m, d), DecodeBytes(m, d, kv),
                    $"per layer: Wq,Wo ({kv.Name()}),b + cached K,V ({kv.Name()}) read", options =>
                {
                    var random = new Random(AnchorData.Seed);
                    var sets = new (CrossAttentionLayer Layer, KeyValueCache Cache)[layers];
                    for (int l = 0; l < layers; l++)
                    {
                        var (layer, _) = AnchorData.Layer(random, d, heads, kv);
                        sets[l] = (layer, layer.Encode(AnchorData.Normal(random, m * d, 1f), m, default, options, elementType: kv));
                    }
                    float[] queries = AnchorData.Normal(random, d, 1f);   // [1, d]
                    float[] output = new float[d];
                    int next = 0;
                    return () =>
                    {
                        var (layer, cache) = sets[next];
                        next = next + 1 == layers ? 0 : next + 1;
                        layer.Decode(cache, queries, 1, output, default, options);
                    };
                }, NoteFor(kv, $"n=1 step cycling through {layers} independent layer sets (weights + K/V) so data comes from DRAM, not L3; time is per layer")));
            }
        }

        Encode("encode-whisper-base", 1500, 512, 8);
        Encode("encode-bart-large", 1024, 1024, 16);
        Decode("decode-whisper-base", 1, 1500, 512, 8);
        Decode("decode-bart-large", 1, 1024, 1024, 16);
        Decode("beam8-bart-large", 8, 1024, 1024, 16,
            note: "8 beams as n=8 queries in ONE Decode call over the shared cache");
        Decode("decode-bart-large-weights", 1, 1024, 1024, 16, withWeights: true,
            note: "also writes the attention probabilities P [16,1,1024]");
        DecodeCold("decode-whisper-base-cold", 1500, 512, 8, 6);    // whisper-base: 6 decoder layers
        DecodeCold("decode-bart-large-cold", 1024, 1024, 16, 12);   // bart-large: 12 decoder layers

        {
            const int n = 128, m = 512, d = 768, heads = 12;
            double flops = 4.0 * n * d * d + 4.0 * m * d * d + 4.0 * n * m * d;
            double bytes = F32 * (4.0 * d * d + 4 * d + n * d + m * d + n * d);
            list.Add(new AnchorWorkload("full-bart-base", "full", flops, bytes, "Wq,Wk,Wv,Wo,b + Xt,Xs read + out written", options =>
            {
                var random = new Random(AnchorData.Seed);
                var (layer, _) = AnchorData.Layer(random, d, heads);
                float[] target = AnchorData.Normal(random, n * d, 1f);   // [n, d]
                float[] source = AnchorData.Normal(random, m * d, 1f);   // [m, d]
                float[] output = new float[n * d];
                var pool = new KeyValueBufferPool(PoolBytes);   // the stateless endpoint's transient K/V, as in the service
                return () =>
                {
                    using KeyValueCache cache = layer.Encode(source, m, default, options, pool);
                    layer.Decode(cache, target, n, output, default, options);
                };
            }, "stateless: Encode (K,V projections + cache build) then Decode with n=128 (Q projection, attention, O projection)"));
        }

        return list;
    }
}
