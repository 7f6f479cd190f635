using System.Text.Json;
using System.Text.Json.Nodes;

namespace CrossAttention.Benchmarks;

/// <summary>
/// Rounds of one anchor workload, from one process (`anchor --rounds N`) or from several anchor-format files
/// (`merge`): the median of the rounds' medians is the figure, so a noisy minute on a shared host moves one round,
/// not the table. p10/p90 are the medians of the rounds' p10/p90; every round's median stays in the JSON.
/// </summary>
public static class AnchorRounds
{
    public const string Usage = "usage: merge RUN1.json RUN2.json [...]   (anchor-format files of ours or of libtorch; JSON on stdout)";

    public static JsonObject Combine(IReadOnlyList<JsonObject> rounds)
    {
        double Median(string key) => MedianOf(rounds.Select(r => r[key]?.GetValue<double>() ?? double.NaN)
            .Where(double.IsFinite).ToArray());
        var combined = (JsonObject)rounds[0].DeepClone();
        double median = Median("median_us");
        combined["median_us"] = Round(median);
        combined["p10_us"] = Round(Median("p10_us"));
        combined["p90_us"] = Round(Median("p90_us"));
        if (combined["flops"]?.GetValue<double>() is double flops) combined["gflops"] = Round(flops / (median * 1e3));
        if (combined["bytes"]?.GetValue<double>() is double bytes) combined["gbps"] = Round(bytes / (median * 1e3));
        combined["iters"] = rounds.Sum(r => r["iters"]?.GetValue<int>() ?? 0);
        combined["rounds"] = rounds.Count;
        combined["round_medians_us"] = new JsonArray([.. rounds.Select(r => (JsonNode?)Round(r["median_us"]!.GetValue<double>()))]);
        if (rounds.Any(r => r["parallel"] is not null))
            combined["parallel"] = new JsonArray([.. rounds.Select(r => r["parallel"]?.DeepClone())]);
        return combined;
    }

    public static double MedianOf(double[] values)
    {
        if (values.Length == 0) return double.NaN;
        Array.Sort(values);
        int mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    public static double Round(double v) => double.IsFinite(v) ? Math.Round(v, v >= 100 ? 1 : 3) : 0;

    /// <summary>`merge A.json B.json ...`: one anchor-format object whose workloads are the median of the files' rounds.</summary>
    public static int Merge(string[] files)
    {
        if (files.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        var runs = new List<JsonObject>();
        try
        {
            foreach (var file in files)
                runs.Add(JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new InvalidDataException($"{file}: not a JSON object"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException)
        {
            Console.Error.WriteLine($"merge: {e.Message}");
            return 2;
        }
        var meta = runs[0]["_meta"] is JsonObject first ? (JsonObject)first.DeepClone() : [];
        meta["rounds"] = runs.Count;
        meta["merged_from"] = new JsonArray([.. files.Select(f => (JsonNode?)f)]);
        meta["round_utc"] = new JsonArray([.. runs.Select(r => r["_meta"]?["utc"]?.DeepClone())]);
        var output = new JsonObject { ["_meta"] = meta };
        foreach (var (name, _) in runs[0].Where(p => !p.Key.StartsWith('_')))
        {
            var rounds = runs.Select(r => r[name] as JsonObject).OfType<JsonObject>().ToList();
            output[name] = Combine(rounds);
        }
        Console.WriteLine(output.ToJsonString(JsonOptions));
        return 0;
    }

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
