using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CrossAttention.Benchmarks;

/// <summary>
/// `compare OURS.json LIBTORCH.json`: a markdown table of median times from two anchor-format JSON files and the
/// speed-up (libtorch / ours) against each workload's target.
/// </summary>
public static class CompareMode
{
    public const string Usage = "usage: compare OURS.json LIBTORCH.json";

    /// <summary>Speed-up over libtorch each workload must reach, in table order.</summary>
    public static IReadOnlyList<(string Workload, double Target)> Targets { get; } =
    [
        ("encode-whisper-base", 1.3),
        ("encode-bart-large", 1.3),
        ("decode-whisper-base", 1.5),
        ("decode-bart-large", 1.5),
        ("beam8-bart-large", 2.0),
        ("decode-bart-large-weights", 2.0),
        ("decode-whisper-base-cold", 1.4),
        ("decode-bart-large-cold", 1.4),
        ("full-bart-base", 1.3),
    ];

    public static int Run(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        JsonObject ours, libtorch;
        try
        {
            ours = Load(args[0]);
            libtorch = Load(args[1]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            return 2;
        }
        Console.Write(Table(ours, libtorch));
        return 0;
    }

    public static string Table(JsonObject ours, JsonObject libtorch)
    {
        static string Us(double? v) => v is double d ? d.ToString("F1", CultureInfo.InvariantCulture) : "—";
        var text = new StringBuilder();
        text.AppendLine($"ours: threads={Meta(ours, "threads")}, variant={Meta(ours, "variant")}; " +
                        $"libtorch: threads={Meta(libtorch, "threads")}, libtorch {Meta(libtorch, "libtorch")}");
        text.AppendLine();
        text.AppendLine("| workload | libtorch median µs | ours median µs | speed-up (libtorch/ours) | target | met? |");
        text.AppendLine("|---|---:|---:|---:|---:|:---:|");
        int met = 0, measured = 0;
        foreach (var (workload, target) in Targets)
        {
            double? theirs = Median(libtorch, workload), mine = Median(ours, workload);
            string speedUp = "—", verdict = "n/a";
            if (theirs is double t && mine is double o && o > 0)
            {
                double ratio = t / o;
                measured++;
                bool ok = ratio >= target;
                if (ok) met++;
                speedUp = Invariant($"{ratio:F2}×");
                verdict = ok ? "yes" : "no";
            }
            text.AppendLine(Invariant($"| {workload} | {Us(theirs)} | {Us(mine)} | {speedUp} | {target:F1}× | {verdict} |"));
        }
        text.AppendLine();
        text.AppendLine(Invariant($"{met} of {Targets.Count} targets met ({measured} measured on both sides)."));
        return text.ToString();
    }

    private static JsonObject Load(string path) =>
        JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path} is not a JSON object.");

    private static double? Median(JsonObject results, string workload) =>
        results[workload] is JsonObject entry && entry["median_us"] is JsonValue value && value.TryGetValue(out double median)
            ? median : null;

    private static string Meta(JsonObject results, string key) =>
        results["_meta"] is JsonObject meta && meta[key] is JsonNode node ? node.ToString() : "?";

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
