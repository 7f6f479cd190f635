using System.Net;
using System.Text.Json.Nodes;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Safetensors;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests;

/// <summary>
/// The golden cases of ../shared/golden served through HTTP: their folders (as shipped) are the ModelsDirectory, the
/// captured inputs go through /encode and /decode-step, and the answers match the libraries' float64 results.
/// </summary>
public class GoldenHttpTests : IClassFixture<GoldenHttpTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory() => Settings["CrossAttention:ModelsDirectory"] = GoldenFolder.Path();
    }

    private readonly Factory _factory;

    public GoldenHttpTests(Factory factory) => _factory = factory;

    public static TheoryData<string> Cases() => new(GoldenFolder.CaseNames());

    [Theory]
    [MemberData(nameof(Cases))]
    public Task CaseMatchesTheLibraryThroughHttp(string name) => RunCaseAsync(_factory, name, kvDtype: null);

    public static TheoryData<string, string> CasesByNarrowKvDtype()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in GoldenFolder.CaseNames())
            foreach (string kvDtype in new[] { "float16", "bfloat16" })
                data.Add(name, kvDtype);
        return data;
    }

    /// <summary>The README's bounds for 16-bit K/V, through /encode with kvDtype and the decode steps.</summary>
    [Theory]
    [MemberData(nameof(CasesByNarrowKvDtype))]
    public Task CaseStaysWithinTheNarrowKvBoundsThroughHttp(string name, string kvDtype) => RunCaseAsync(_factory, name, kvDtype);

    /// <param name="weightsDtype">what the host serves the model's weights as (it must say so in /models/{name})</param>
    internal static async Task RunCaseAsync(ApiFactory factory, string name, string? kvDtype, string weightsDtype = "float32")
    {
        // float32: 1e-4 / 2e-5 absolute; float16 and bfloat16: outputs relative to max|expected|, weights absolute. With
        // both K/V and weights given, the narrower type's bounds (bfloat16 is the narrower).
        string narrowest = kvDtype == "bfloat16" || weightsDtype == "bfloat16" ? "bfloat16"
            : kvDtype == "float16" || weightsDtype == "float16" ? "float16" : "float32";
        (double outputBound, double attentionBound, bool relative) = narrowest switch
        {
            "float16" => (2e-3, 5e-3, true),
            "bfloat16" => (2e-2, 3e-2, true),
            _ => (1e-4, 2e-5, false),
        };
        double OutputBound(ReadOnlySpan<double> expected)
        {
            double max = 0;
            foreach (double value in expected) max = Math.Max(max, Math.Abs(value));
            return relative ? outputBound * max : outputBound;
        }

        var client = factory.CreateClient();
        await factory.Services.GetRequiredService<ModelCatalog>().WhenReady;
        string folder = System.IO.Path.Combine(GoldenFolder.Path(), name);
        var meta = JsonNode.Parse(File.ReadAllText(System.IO.Path.Combine(folder, "case.json")))!;
        int layer = meta["layer"]?.GetValue<int>() ?? 0;
        using var data = SafetensorsFile.Open(System.IO.Path.Combine(folder, "case.safetensors"));

        var model = await (await client.GetAsync($"/models/{name}")).ReadObjectAsync();
        Assert.Equal(meta["heads"]!.GetValue<int>(), model["heads"]!.GetValue<int>());
        Assert.Equal(meta["scale"]!.GetValue<double>(), model["scale"]!.GetValue<double>(), 6);
        Assert.Equal(weightsDtype, model["weightsDtype"]!.GetValue<string>());

        var sourceShape = data.Info("encoder_hidden_states").Shape;   // [B, m, d_src]
        var queryShape = data.Info("decoder_hidden_states").Shape;    // [B, n, d_q]
        int batch = (int)sourceShape[0], m = (int)sourceShape[1], dSrc = (int)sourceShape[2];
        int n = (int)queryShape[1], dQ = (int)queryShape[2];
        int heads = meta["heads"]!.GetValue<int>();
        float[] source = data.ReadSingles("encoder_hidden_states");
        float[] queries = data.ReadSingles("decoder_hidden_states");
        long[]? mask = data.Contains("encoder_attention_mask") ? data.ReadInt64("encoder_attention_mask") : null;
        double[] expectedOutput = data.ReadDoubles("expected_output_f64");
        double[] expectedAttention = data.ReadDoubles("expected_attention_f64");

        for (int b = 0; b < batch; b++)
        {
            var encode = await client.PostAsync("/encode", Json.Body(new
            {
                model = name,
                source = Rows(source, b * m * dSrc, m, dSrc),
                sourceMask = mask?.Skip(b * m).Take(m).Select(v => (int)v).ToArray(),
                kvDtype,
            }));
            Assert.Equal(HttpStatusCode.Created, encode.StatusCode);
            var session = await encode.ReadObjectAsync();
            Assert.Equal(kvDtype ?? "float32", session["kvDtype"]!.GetValue<string>());
            string id = session["sessionId"]!.GetValue<string>();

            var step = await (await client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new
            {
                layer, queries = Rows(queries, b * n * dQ, n, dQ), returnAttention = true,
            }))).ReadObjectAsync();
            var output = Json.Matrix(step["output"]).SelectMany(r => r).ToArray();
            var attention = Json.Tensor3(step["attention"]).SelectMany(h => h.SelectMany(r => r)).ToArray();
            AssertClose(expectedOutput.AsSpan(b * n * dQ, n * dQ), output, OutputBound(expectedOutput.AsSpan(b * n * dQ, n * dQ)),
                $"{name} K/V {kvDtype} weights {weightsDtype} output, batch {b}");
            AssertClose(expectedAttention.AsSpan(b * heads * n * m, heads * n * m), attention, attentionBound,
                $"{name} K/V {kvDtype} weights {weightsDtype} attention, batch {b}");

            // The library's own cached, token-by-token decoding, replayed one step at a time.
            for (int t = 0; data.Contains($"step_{t}_query"); t++)
            {
                float[] query = data.ReadSingles($"step_{t}_query");
                double[] expected = data.ReadSingles($"step_{t}_output").Select(v => (double)v).ToArray();
                var result = await (await client.PostAsync("/decode-step", Json.Body(new
                {
                    sessionId = id, layer, queries = Rows(query, b * dQ, 1, dQ),
                }))).ReadObjectAsync();
                AssertClose(expected.AsSpan(b * dQ, dQ), Json.Matrix(result["output"])[0], OutputBound(expected.AsSpan(b * dQ, dQ)),
                    $"{name} K/V {kvDtype} weights {weightsDtype} step {t}, batch {b}");
            }
        }
    }

    private static float[][] Rows(float[] values, int offset, int rows, int columns) =>
        Enumerable.Range(0, rows).Select(r => values.AsSpan(offset + r * columns, columns).ToArray()).ToArray();

    private static void AssertClose(ReadOnlySpan<double> expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= tolerance, $"{what}: max |diff| {worst:E2} > {tolerance:E0}");
    }
}

/// <summary>Finds ../shared/golden (or CROSSATTENTION_GOLDEN); a missing folder fails the tests, it never skips them.</summary>
internal static class GoldenFolder
{
    private static readonly string[] Known = ["bart", "whisper", "torch_mha_packed"];

    public static string Path()
    {
        string? configured = Environment.GetEnvironmentVariable("CROSSATTENTION_GOLDEN");
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared", "golden");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException($"No shared/golden folder above {AppContext.BaseDirectory}; set CROSSATTENTION_GOLDEN.");
    }

    public static IEnumerable<string> CaseNames()
    {
        try
        {
            return Directory.GetDirectories(Path()).Where(d => File.Exists(System.IO.Path.Combine(d, "case.json")))
                .Select(d => System.IO.Path.GetFileName(d)!).Union(Known).Order(StringComparer.Ordinal).ToArray();
        }
        catch (InvalidOperationException)
        {
            return Known; // each case then fails, saying where it looked
        }
    }
}
