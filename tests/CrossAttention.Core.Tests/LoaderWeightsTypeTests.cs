using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Checkpoints of each float dtype loaded with each weights type: the model holds the type asked for and computes
/// exactly what a layer packed from the same values in memory computes (16-bit tensors of the same type are packed as
/// stored, the others converted).
/// </summary>
public class LoaderWeightsTypeTests
{
    private static readonly ProjectionBiases AllBiases = new(true, true, true, true);

    public static TheoryData<string, KeyValueElementType> CheckpointAndWeightsTypes()
    {
        var data = new TheoryData<string, KeyValueElementType>();
        foreach (string dtype in new[] { "F32", "F16", "BF16" })
        foreach (var type in new[] { KeyValueElementType.Float32, KeyValueElementType.Float16, KeyValueElementType.BFloat16 })
            data.Add(dtype, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(CheckpointAndWeightsTypes))]
    public void HuggingFaceCheckpointLoadsAsTheWeightsTypeAsked(string dtype, KeyValueElementType weightsType)
    {
        const int dModel = 40, heads = 4, layerCount = 2;
        var random = new Random(61 + dtype.Length);
        using var folder = new TempFolder("bart");
        folder.WriteText("config.json", LoaderTests.BartConfig("bart", heads, layerCount, dModel));
        var writer = new SafetensorsWriter();
        var layers = new List<SyntheticLayer>();
        for (int i = 0; i < layerCount; i++)
        {
            var layer = SyntheticLayer.Create(random, dModel, dModel, dModel, AllBiases, dtype);
            string module = $"model.decoder.layers.{i}.encoder_attn";
            layer.AddTo(writer, module + ".q_proj", module + ".k_proj", module + ".v_proj", module + ".out_proj", dtype);
            layers.Add(layer);
        }
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path, weightsType: weightsType);
        var asFloat32 = ModelLoader.Load(folder.Path);

        Assert.Equal(weightsType, model.WeightsType);
        for (int i = 0; i < layerCount; i++)
        {
            Assert.Equal(weightsType, model.Layers[i].WeightsType);
            AssertSameBits(Packed(layers[i], heads, weightsType), model.Layers[i], new Random(i));
        }
        // Four [40, 40] weights in two panels of 32 columns per layer, plus biases: the narrow types take half the panel bytes.
        long panelBytes = layerCount * 4L * 64 * dModel * weightsType.Size();
        long biasBytes = layerCount * 4L * sizeof(float) * 64;
        Assert.InRange(model.WeightBytes, panelBytes + biasBytes, panelBytes + biasBytes + layerCount * 8 * 64);
        if (weightsType != KeyValueElementType.Float32) Assert.True(model.WeightBytes < asFloat32.WeightBytes);
    }

    [Theory]
    [InlineData("F16", KeyValueElementType.Float16)]
    [InlineData("BF16", KeyValueElementType.BFloat16)]
    [InlineData("F32", KeyValueElementType.BFloat16)]
    public void TorchMhaStackedProjectionSplitsAsStored(string dtype, KeyValueElementType weightsType)
    {
        const int embed = 16, heads = 2;
        var random = new Random(67);
        using var folder = new TempFolder();
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"attn","heads":2}""");
        var layer = SyntheticLayer.Create(random, embed, embed, embed, AllBiases, dtype);
        var writer = new SafetensorsWriter();
        writer.AddFloats("attn.in_proj_weight", [.. layer.Q.Weight, .. layer.K.Weight, .. layer.V.Weight], [3 * embed, embed], dtype);
        writer.AddFloats("attn.in_proj_bias", [.. layer.Q.Bias!, .. layer.K.Bias!, .. layer.V.Bias!], [3 * embed], dtype);
        writer.AddFloats("attn.out_proj.weight", layer.O.Weight, [embed, embed], dtype);
        writer.AddFloats("attn.out_proj.bias", layer.O.Bias!, [embed], dtype);
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path, weightsType: weightsType);

        Assert.Equal(weightsType, model.WeightsType);
        AssertSameBits(Packed(layer, heads, weightsType), model.Layers[0], new Random(5));
    }

    [Fact]
    public void AWeightBeyondFloat16IsRefusedAsFloat16AndServedAsBFloat16()
    {
        const int dModel = 8, heads = 2;
        using var folder = new TempFolder("large");
        folder.WriteText("config.json", LoaderTests.BartConfig("bart", heads, 1, dModel));
        var layer = SyntheticLayer.Create(new Random(71), dModel, dModel, dModel, AllBiases);
        layer.V.Weight[3] = 70000f;
        var writer = new SafetensorsWriter();
        layer.AddTo(writer, "decoder.layers.0.encoder_attn.q_proj", "decoder.layers.0.encoder_attn.k_proj",
            "decoder.layers.0.encoder_attn.v_proj", "decoder.layers.0.encoder_attn.out_proj");
        writer.Write(folder.File("model.safetensors"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder.Path, weightsType: KeyValueElementType.Float16));
        Assert.Contains("decoder.layers.0.encoder_attn.v_proj.weight", error.Message);
        Assert.Contains("float16", error.Message);
        Assert.Equal(KeyValueElementType.BFloat16, ModelLoader.Load(folder.Path, weightsType: KeyValueElementType.BFloat16).WeightsType);
    }

    [Fact]
    public void ANonFiniteSixteenBitWeightIsRefusedNamingTheTensor()
    {
        const int dModel = 8, heads = 2;
        using var folder = new TempFolder("infinite");
        folder.WriteText("config.json", LoaderTests.BartConfig("bart", heads, 1, dModel));
        var layer = SyntheticLayer.Create(new Random(73), dModel, dModel, dModel, AllBiases, "F16");
        var writer = new SafetensorsWriter();
        layer.AddTo(writer, "decoder.layers.0.encoder_attn.q_proj", "decoder.layers.0.encoder_attn.k_proj",
            "decoder.layers.0.encoder_attn.v_proj", "decoder.layers.0.encoder_attn.out_proj", "F16");
        writer.Remove("decoder.layers.0.encoder_attn.k_proj.weight");
        writer.Add("decoder.layers.0.encoder_attn.k_proj.weight", "F16", [dModel, dModel],
            Enumerable.Range(0, dModel * dModel).SelectMany(i => i == 9 ? new byte[] { 0x00, 0x7C } : [0x00, 0x3C]).ToArray());
        writer.Write(folder.File("model.safetensors"));

        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder.Path, weightsType: KeyValueElementType.Float16));
        Assert.Contains("decoder.layers.0.encoder_attn.k_proj.weight", error.Message);
        Assert.Contains("index 9", error.Message);
    }

    private static CrossAttentionLayer Packed(SyntheticLayer layer, int heads, KeyValueElementType weightsType) =>
        new(layer.Q, layer.K, layer.V, layer.O, heads, weightsType: weightsType);

    /// <summary>Encodes a random masked source and decodes random queries through both layers: identical bits.</summary>
    private static void AssertSameBits(CrossAttentionLayer expected, CrossAttentionLayer actual, Random random)
    {
        const int m = 7, n = 3;
        float[] source = SyntheticLayer.RandomValues(random, m * expected.SourceDim);
        float[] queries = SyntheticLayer.RandomValues(random, n * expected.QueryDim);
        byte[] mask = [1, 1, 0, 1, 1, 1, 1];
        float[] Run(CrossAttentionLayer layer)
        {
            using var cache = layer.Encode(source, m, mask, ComputeOptions.Default);
            var output = new float[n * layer.QueryDim];
            layer.Decode(cache, queries, n, output, [], ComputeOptions.Default);
            return output;
        }
        Assert.Equal(Run(expected), Run(actual));
    }
}
