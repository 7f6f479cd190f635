using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Benchmarks;

/// <summary>What the run ran on, for the JSON `_meta`: the kernels' speed and libtorch's (MKL picks its path by vendor) depend on it.</summary>
public static class AnchorCpu
{
    public static JsonObject Describe(KernelVariant variant)
    {
        var fields = ReadCpuInfo();
        string Field(string key) => fields.TryGetValue(key, out var value) ? value : "unknown";
        var flags = fields.TryGetValue("flags", out var all) ? all.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet() : [];
        return new JsonObject
        {
            ["vendor"] = Field("vendor_id"),
            ["model_name"] = Field("model name"),
            ["family"] = Field("cpu family"),
            ["model"] = Field("model"),
            ["stepping"] = Field("stepping"),
            ["vector_bits_used"] = variant switch
            {
                KernelVariant.Vector512 => 512,
                KernelVariant.Vector256 => 256,
                KernelVariant.Vector128 => 128,
                _ => 32,
            },
            ["vector512_hardware_accelerated"] = Vector512.IsHardwareAccelerated,
            ["avx512"] = string.Join(",", new[] { "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_tile" }
                .Where(flags.Contains)),
            ["cpuinfo_cache_size"] = Field("cache size"), // what the kernel reports; on this VM the per-core L2
            ["hypervisor"] = flags.Contains("hypervisor"),
        };
    }

    /// <summary>The first processor's block of /proc/cpuinfo; empty off Linux.</summary>
    private static Dictionary<string, string> ReadCpuInfo()
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.Length == 0) break;
                var parts = line.Split(':', 2);
                if (parts.Length == 2) fields.TryAdd(parts[0].Trim(), parts[1].Trim());
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return fields;
    }
}
