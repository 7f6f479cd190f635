using System.Text.Json;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Safetensors;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Cases captured from the real libraries (../shared/golden): each checkpoint is loaded exactly as shipped and must
/// reproduce the library's cross-attention output and weights, for full decodes and for its token-by-token steps.
/// </summary>
public class GoldenCaseTests
{
    private const double OutputTolerance = 1e-4;
    private const double AttentionTolerance = 2e-5;

    public static TheoryData<string> Cases() => new(GoldenCases.Names());

    public static TheoryData<string, KernelVariant> CasesByVariant()
    {
        var data = new TheoryData<string, KernelVariant>();
        foreach (string name in GoldenCases.Names())
            foreach (var variant in KernelVariants.Supported)
                data.Add(name, variant);
        return data;
    }

    [Fact]
    public void TheKnownGoldenCasesArePresent()
    {
        string folder = GoldenCases.Folder();
        foreach (string name in GoldenCases.Known)
            Assert.True(File.Exists(Path.Combine(folder, name, "case.json")), $"{folder}/{name}/case.json is missing.");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LoadedModelMatchesTheCaseDescription(string caseName)
    {
        string folder = GoldenCases.Case(caseName);
        using var description = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "case.json")));
        var root = description.RootElement;
        var model = ModelLoader.Load(folder);

        Assert.Equal(caseName, model.Name);
        Assert.Equal(root.GetProperty("family").GetString(), model.Family);
        Assert.Equal(root.GetProperty("heads").GetInt32(), model.Heads);
        Assert.Equal(root.GetProperty("scale").GetSingle(), model.Scale);
        if (root.TryGetProperty("model_type", out var modelType))
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "config.json")));
            Assert.Equal(modelType.GetString(), model.Family);
            var settings = config.RootElement;
            int layers = (settings.TryGetProperty("decoder_layers", out var n) ? n
                : settings.TryGetProperty("num_decoder_layers", out n) ? n : settings.GetProperty("num_layers")).GetInt32();
            Assert.Equal(layers, model.Layers.Count);
            Assert.Equal(settings.GetProperty("d_model").GetInt32(), model.QueryDim);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GoldenCaseWithDefaultOptions(string caseName) => RunCase(caseName, ComputeOptions.Default);

    [Theory]
    [MemberData(nameof(CasesByVariant))]
    public void GoldenCaseWithEveryVariant(string caseName, KernelVariant variant) =>
        RunCase(caseName, new ComputeOptions(variant, 1));

    [Theory]
    [MemberData(nameof(Cases))]
    public void GoldenCaseWithTwoThreads(string caseName) => RunCase(caseName, ComputeOptions.Parallel(2));

    public static TheoryData<string, KernelVariant, KeyValueElementType> CasesByNarrowType()
    {
        var data = new TheoryData<string, KernelVariant, KeyValueElementType>();
        foreach (string name in GoldenCases.Names())
            foreach (var variant in KernelVariants.Supported)
                foreach (var elementType in new[] { KeyValueElementType.Float16, KeyValueElementType.BFloat16 })
                    data.Add(name, variant, elementType);
        return data;
    }

    /// <summary>
    /// The README's bounds for 16-bit K/V: outputs within 2e-3 (float16) / 2e-2 (bfloat16) × max|expected|, attention
    /// weights within 5e-3 / 3e-2 absolute.
    /// </summary>
    [Theory]
    [MemberData(nameof(CasesByNarrowType))]
    public void GoldenCaseWithNarrowKeyValues(string caseName, KernelVariant variant, KeyValueElementType elementType) =>
        RunCase(caseName, new ComputeOptions(variant, 1), elementType);

    /// <summary>The same bounds with the weights stored narrow: K/V float32, then K/V of the weights' type too.</summary>
    [Theory]
    [MemberData(nameof(CasesByNarrowType))]
    public void GoldenCaseWithNarrowWeights(string caseName, KernelVariant variant, KeyValueElementType weightsType)
    {
        RunCase(caseName, new ComputeOptions(variant, 1), weightsType: weightsType);
        RunCase(caseName, new ComputeOptions(variant, 1), weightsType, weightsType);
    }

    [Theory]
    [InlineData(KeyValueElementType.Float16)]
    [InlineData(KeyValueElementType.BFloat16)]
    public void NarrowWeightsLoadIntoEveryLayerAndHoldTheBoundsWithTwoThreads(KeyValueElementType weightsType)
    {
        foreach (string caseName in GoldenCases.Names())
        {
            var model = ModelLoader.Load(GoldenCases.Case(caseName), weightsType: weightsType);
            Assert.Equal(weightsType, model.WeightsType);
            Assert.All(model.Layers, layer => Assert.Equal(weightsType, layer.WeightsType));
        }
        RunCase(GoldenCases.Names().First(), ComputeOptions.Parallel(2), weightsType: weightsType);
    }

    /// <summary>The bounds of the narrower of the K/V and weights types (bfloat16 is the narrower of the 16-bit two).</summary>
    internal static (double Output, double Attention, bool Relative) Bounds(KeyValueElementType keyValues, KeyValueElementType weights) =>
        Bounds(keyValues == KeyValueElementType.BFloat16 || weights == KeyValueElementType.BFloat16 ? KeyValueElementType.BFloat16
            : keyValues == KeyValueElementType.Float16 || weights == KeyValueElementType.Float16 ? KeyValueElementType.Float16
            : KeyValueElementType.Float32);

    /// <summary>(output bound relative to max|expected|, absolute attention bound) for a K/V dtype; float32 is absolute.</summary>
    internal static (double Output, double Attention, bool Relative) Bounds(KeyValueElementType elementType) => elementType switch
    {
        KeyValueElementType.Float16 => (2e-3, 5e-3, true),
        KeyValueElementType.BFloat16 => (2e-2, 3e-2, true),
        _ => (OutputTolerance, AttentionTolerance, false),
    };

    private static void RunCase(string caseName, ComputeOptions options, KeyValueElementType elementType = KeyValueElementType.Float32,
        KeyValueElementType weightsType = KeyValueElementType.Float32)
    {
        var bounds = Bounds(elementType, weightsType);
        double OutputBound(ReadOnlySpan<double> expected)
        {
            double max = 0;
            foreach (double value in expected) max = Math.Max(max, Math.Abs(value));
            return bounds.Relative ? bounds.Output * max : bounds.Output;
        }
        string folder = GoldenCases.Case(caseName);
        using var description = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "case.json")));
        int layerIndex = description.RootElement.TryGetProperty("layer", out var l) ? l.GetInt32() : 0;
        int steps = description.RootElement.TryGetProperty("steps", out var s) ? s.GetInt32() : 0;

        var model = ModelLoader.Load(folder, weightsType: weightsType);
        var layer = model.Layers[layerIndex];
        using var data = SafetensorsFile.Open(Path.Combine(folder, "case.safetensors"));

        var sourceInfo = data.Info("encoder_hidden_states");   // [B, m, d_src]
        var queryInfo = data.Info("decoder_hidden_states");    // [B, n, d_q]
        int batch = (int)sourceInfo.Shape[0], m = (int)sourceInfo.Shape[1], n = (int)queryInfo.Shape[1];
        Assert.Equal(model.SourceDim, (int)sourceInfo.Shape[2]);
        Assert.Equal(model.QueryDim, (int)queryInfo.Shape[2]);
        int dq = model.QueryDim, heads = model.Heads;

        float[] sources = data.ReadSingles("encoder_hidden_states");
        float[] queries = data.ReadSingles("decoder_hidden_states");
        double[] expectedOutput = data.ReadDoubles("expected_output_f64");       // [B, n, d_q]
        double[] expectedAttention = data.ReadDoubles("expected_attention_f64"); // [B, heads, n, m]
        long[]? masks = data.Contains("encoder_attention_mask") ? data.ReadInt64("encoder_attention_mask") : null; // [B, m]
        Assert.Equal(batch * heads * n * m, expectedAttention.Length);

        for (int b = 0; b < batch; b++)
        {
            byte[] mask = masks is null ? [] : masks.AsSpan(b * m, m).ToArray().Select(v => (byte)v).ToArray();
            var cache = layer.Encode(sources.AsSpan(b * m * model.SourceDim, m * model.SourceDim), m, mask, options,
                elementType: elementType);
            Assert.Equal(elementType, cache.Layout.ElementType);

            var output = new float[n * dq];
            var attention = new float[heads * n * m];
            layer.Decode(cache, queries.AsSpan(b * n * dq, n * dq), n, output, attention, options);
            var expectedRows = expectedOutput.AsSpan(b * n * dq, n * dq);
            Tolerance.AssertClose(expectedRows, output, OutputBound(expectedRows), $"{caseName} K/V {elementType} weights {weightsType} batch {b} output");
            Tolerance.AssertClose(expectedAttention.AsSpan(b * heads * n * m, heads * n * m), attention, bounds.Attention,
                $"{caseName} K/V {elementType} weights {weightsType} batch {b} attention");

            for (int t = 0; t < steps; t++)
            {
                float[] stepQuery = data.ReadSingles($"step_{t}_query");        // [B, 1, d_q]
                double[] stepOutput = data.ReadDoubles($"step_{t}_output");     // [B, 1, d_q]
                var stepResult = new float[dq];
                layer.Decode(cache, stepQuery.AsSpan(b * dq, dq), 1, stepResult, [], options);
                Tolerance.AssertClose(stepOutput.AsSpan(b * dq, dq), stepResult, OutputBound(stepOutput.AsSpan(b * dq, dq)),
                    $"{caseName} K/V {elementType} weights {weightsType} batch {b} step {t}");
            }
        }
    }
}
