using System.Text.Json;
using CrossAttention.Core.Models;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Checkpoints the tests write themselves, one per supported layout: each loaded model must report the right shape
/// and compute what the reference computes from the very weights that were written.
/// </summary>
public class LoaderTests
{
    private static readonly ProjectionBiases AllBiases = new(true, true, true, true);
    private static readonly ProjectionBiases NoBiases = new(false, false, false, false);

    [Theory]
    [InlineData("", "t5")]
    [InlineData("model.", "t5")]
    [InlineData("", "mt5")]
    [InlineData("model.", "umt5")]
    public void T5StyleCheckpointHasSeparateInnerSizeAndNoScaling(string prefix, string modelType)
    {
        const int dModel = 32, dKv = 8, heads = 6, layerCount = 2;
        var random = new Random(11);
        using var folder = new TempFolder("t5-small-test");
        folder.WriteText("config.json", JsonSerializer.Serialize(new
        {
            model_type = modelType, d_model = dModel, d_kv = dKv, num_heads = heads, num_layers = 3,
            num_decoder_layers = layerCount, architectures = new[] { "T5ForConditionalGeneration" },
        }));
        var writer = new SafetensorsWriter();
        writer.AddFloats("shared.weight", SyntheticLayer.RandomValues(random, 10 * dModel), [10, dModel]);
        var layers = new List<SyntheticLayer>();
        for (int i = 0; i < layerCount; i++)
        {
            var layer = SyntheticLayer.Create(random, dModel, dModel, heads * dKv, NoBiases);
            string module = $"{prefix}decoder.block.{i}.layer.1.EncDecAttention";
            layer.AddTo(writer, module + ".q", module + ".k", module + ".v", module + ".o");
            writer.AddFloats($"{prefix}decoder.block.{i}.layer.0.SelfAttention.q.weight", SyntheticLayer.RandomValues(random, 48 * dModel), [48, dModel]);
            layers.Add(layer);
        }
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal("t5-small-test", model.Name);
        Assert.Equal(modelType, model.Family);
        Assert.Equal(layerCount, model.Layers.Count);
        Assert.Equal(heads, model.Heads);
        Assert.Equal(dKv, model.HeadDim);
        Assert.Equal(dModel, model.QueryDim);
        Assert.Equal(dModel, model.SourceDim);
        Assert.Equal(48, model.Layers[0].InnerDim);
        Assert.Equal(1f, model.Scale);
        Assert.Equal(NoBiases, model.Biases);
        for (int i = 0; i < layerCount; i++) layers[i].AssertLoadedLayerMatches(model.Layers[i], heads, 1f, new Random(i));
    }

    [Fact]
    public void T5ScaleOfOneIsVisibleInTheResults()
    {
        // Guards the test above: the default head_dim^-0.5 would give a clearly different answer.
        var random = new Random(5);
        var layer = SyntheticLayer.Create(random, 32, 32, 48, NoBiases);
        var unscaled = new CrossAttentionLayer(layer.Q, layer.K, layer.V, layer.O, 6, 1f);
        layer.AssertLoadedLayerMatches(unscaled, 6, 1f, new Random(1));
        Assert.Throws<Xunit.Sdk.TrueException>(() => layer.AssertLoadedLayerMatches(unscaled, 6, 1f / MathF.Sqrt(8), new Random(1)));
    }

    [Fact]
    public void T5FallsBackToNumLayersWithoutNumDecoderLayers()
    {
        var random = new Random(12);
        using var folder = new TempFolder();
        folder.WriteText("config.json", """{"model_type":"t5","d_model":16,"d_kv":4,"num_heads":2,"num_layers":3}""");
        var writer = new SafetensorsWriter();
        var layers = Enumerable.Range(0, 3).Select(i =>
        {
            var layer = SyntheticLayer.Create(random, 16, 16, 8, NoBiases);
            string module = $"decoder.block.{i}.layer.1.EncDecAttention";
            layer.AddTo(writer, module + ".q", module + ".k", module + ".v", module + ".o");
            return layer;
        }).ToList();
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path, "custom-name");

        Assert.Equal("custom-name", model.Name);
        Assert.Equal(3, model.Layers.Count);
        Assert.Equal(4, model.HeadDim);
        for (int i = 0; i < 3; i++) layers[i].AssertLoadedLayerMatches(model.Layers[i], 2, 1f, new Random(i));
    }

    [Theory]
    [InlineData("bart", "", "F32")]
    [InlineData("mbart", "model.", "F32")]
    [InlineData("m2m_100", "model.", "F32")]
    [InlineData("marian", "model.", "F32")]
    [InlineData("pegasus", "", "F32")]
    [InlineData("blenderbot", "", "F32")]
    [InlineData("blenderbot-small", "model.", "F32")]
    [InlineData("whisper", "model.", "F32")]
    [InlineData("bart", "", "F16")]
    [InlineData("whisper", "", "BF16")]
    public void BartStyleCheckpointLoadsEveryDecoderLayer(string modelType, string prefix, string dtype)
    {
        const int dModel = 24, heads = 3, layerCount = 3;
        var random = new Random(modelType.Length * 7 + prefix.Length + dtype.Length);
        // Whisper's cross-attention k_proj has no bias; the others have all four.
        var biases = modelType == "whisper" ? AllBiases with { K = false } : AllBiases;
        using var folder = new TempFolder(modelType);
        folder.WriteText("config.json", BartConfig(modelType, heads, layerCount, dModel));
        var writer = new SafetensorsWriter();
        var layers = new List<SyntheticLayer>();
        for (int i = 0; i < layerCount; i++)
        {
            var layer = SyntheticLayer.Create(random, dModel, dModel, dModel, biases, dtype);
            string module = $"{prefix}decoder.layers.{i}.encoder_attn";
            layer.AddTo(writer, module + ".q_proj", module + ".k_proj", module + ".v_proj", module + ".out_proj", dtype);
            // Same-named self-attention beside it must not be picked up instead.
            writer.AddFloats($"{prefix}decoder.layers.{i}.self_attn.q_proj.weight", SyntheticLayer.RandomValues(random, dModel * dModel), [dModel, dModel], dtype);
            layers.Add(layer);
        }
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal(modelType, model.Name);
        Assert.Equal(modelType, model.Family);
        Assert.Equal(layerCount, model.Layers.Count);
        Assert.Equal(heads, model.Heads);
        Assert.Equal(dModel / heads, model.HeadDim);
        Assert.Equal(dModel, model.QueryDim);
        Assert.Equal(dModel, model.SourceDim);
        Assert.Equal(1f / MathF.Sqrt(dModel / heads), model.Scale);
        Assert.Equal(biases, model.Biases);
        float scale = 1f / MathF.Sqrt(dModel / heads);
        for (int i = 0; i < layerCount; i++) layers[i].AssertLoadedLayerMatches(model.Layers[i], heads, scale, new Random(i));
    }

    [Fact]
    public void ShardedHuggingFaceCheckpointReadsTensorsFromEveryShard()
    {
        const int dModel = 16, heads = 2;
        var random = new Random(21);
        using var folder = new TempFolder();
        folder.WriteText("config.json", BartConfig("mbart", heads, 2, dModel));
        var all = new SafetensorsWriter();
        var layers = new List<SyntheticLayer>();
        for (int i = 0; i < 2; i++)
        {
            var layer = SyntheticLayer.Create(random, dModel, dModel, dModel, AllBiases);
            string module = $"model.decoder.layers.{i}.encoder_attn";
            layer.AddTo(all, module + ".q_proj", module + ".k_proj", module + ".v_proj", module + ".out_proj");
            layers.Add(layer);
        }
        // Layer 0's q and k in the first shard, everything else in the second: one layer spans both files.
        static bool InFirstShard(string name) => name.StartsWith("model.decoder.layers.0.") && (name.Contains(".q_proj") || name.Contains(".k_proj"));
        string[] shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        all.Subset(InFirstShard).Write(folder.File(shardNames[0]));
        all.Subset(name => !InFirstShard(name)).Write(folder.File(shardNames[1]));
        var weightMap = all.Names.ToDictionary(name => name, name => shardNames[InFirstShard(name) ? 0 : 1]);
        folder.WriteText("model.safetensors.index.json", JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal(2, model.Layers.Count);
        for (int i = 0; i < 2; i++) layers[i].AssertLoadedLayerMatches(model.Layers[i], heads, 1f / MathF.Sqrt(8), new Random(i));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TorchMhaWithSeparateProjectionsReadsKdimSource(bool withBiases)
    {
        const int embed = 16, kdim = 12, heads = 4;
        var random = new Random(31);
        using var folder = new TempFolder("mha");
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"decoder.cross","heads":4}""");
        var layer = SyntheticLayer.Create(random, embed, kdim, embed, withBiases ? AllBiases : NoBiases);
        var writer = new SafetensorsWriter();
        writer.AddFloats("decoder.cross.q_proj_weight", layer.Q.Weight, [embed, embed]);
        writer.AddFloats("decoder.cross.k_proj_weight", layer.K.Weight, [embed, kdim]);
        writer.AddFloats("decoder.cross.v_proj_weight", layer.V.Weight, [embed, kdim]);
        if (withBiases)
            writer.AddFloats("decoder.cross.in_proj_bias", [.. layer.Q.Bias!, .. layer.K.Bias!, .. layer.V.Bias!], [3 * embed]);
        writer.AddFloats("decoder.cross.out_proj.weight", layer.O.Weight, [embed, embed]);
        if (withBiases) writer.AddFloats("decoder.cross.out_proj.bias", layer.O.Bias!, [embed]);
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal("torch-mha", model.Family);
        Assert.Single(model.Layers);
        Assert.Equal(heads, model.Heads);
        Assert.Equal(4, model.HeadDim);
        Assert.Equal(embed, model.QueryDim);
        Assert.Equal(kdim, model.SourceDim);
        Assert.Equal(0.5f, model.Scale);
        Assert.Equal(withBiases ? AllBiases : NoBiases, model.Biases);
        layer.AssertLoadedLayerMatches(model.Layers[0], heads, 0.5f, new Random(3));
    }

    [Fact]
    public void TorchMhaPackedInProjectionIsSplitByRows()
    {
        const int embed = 16, heads = 2;
        var random = new Random(32);
        using var folder = new TempFolder();
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"attn","heads":2}""");
        var layer = SyntheticLayer.Create(random, embed, embed, embed, AllBiases with { O = false });
        var writer = new SafetensorsWriter();
        writer.AddFloats("attn.in_proj_weight", [.. layer.Q.Weight, .. layer.K.Weight, .. layer.V.Weight], [3 * embed, embed]);
        writer.AddFloats("attn.in_proj_bias", [.. layer.Q.Bias!, .. layer.K.Bias!, .. layer.V.Bias!], [3 * embed]);
        writer.AddFloats("attn.out_proj.weight", layer.O.Weight, [embed, embed]);
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal(AllBiases with { O = false }, model.Biases);
        layer.AssertLoadedLayerMatches(model.Layers[0], heads, 1f / MathF.Sqrt(8), new Random(4));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LinearFormatLoadsNamedLayersWithExplicitScale(bool sharded)
    {
        const int queryDim = 20, sourceDim = 12, inner = 16, heads = 2;
        const float scale = 0.3f;
        var random = new Random(41);
        using var folder = new TempFolder("sd-like");
        var biases = new ProjectionBiases(false, false, false, true);
        var modules = new[] { "down_blocks.0.attentions.0.transformer_blocks.0.attn2", "mid_block.attentions.0.transformer_blocks.0.attn2" };
        var writers = new[] { new SafetensorsWriter(), new SafetensorsWriter() };
        var layers = new List<SyntheticLayer>();
        var weightMap = new Dictionary<string, string>();
        for (int i = 0; i < modules.Length; i++)
        {
            var layer = SyntheticLayer.Create(random, queryDim, sourceDim, inner, biases);
            var target = writers[sharded ? i : 0];
            string m = modules[i];
            layer.AddTo(target, m + ".to_q", m + ".to_k", m + ".to_v", m + ".to_out.0");
            foreach (string name in target.Names) weightMap.TryAdd(name, $"diffusion_pytorch_model-0000{i + 1}-of-00002.safetensors");
            layers.Add(layer);
        }
        string weights;
        if (sharded)
        {
            for (int s = 0; s < 2; s++) writers[s].Write(folder.File($"diffusion_pytorch_model-0000{s + 1}-of-00002.safetensors"));
            weights = "diffusion_pytorch_model.safetensors.index.json";
            folder.WriteText(weights, JsonSerializer.Serialize(new { metadata = new { }, weight_map = weightMap }));
        }
        else
        {
            weights = "diffusion_pytorch_model.safetensors";
            writers[0].Write(folder.File(weights));
        }
        // A diffusers folder also has a config.json; cross_attention.json must win.
        folder.WriteText("config.json", """{"_class_name":"UNet2DConditionModel"}""");
        folder.WriteText("cross_attention.json", JsonSerializer.Serialize(new
        {
            format = "linear", weights, heads, scale,
            layers = modules.Select(m => new { q = m + ".to_q", k = m + ".to_k", v = m + ".to_v", o = m + ".to_out.0" }),
        }));

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal("linear", model.Family);
        Assert.Equal(2, model.Layers.Count);
        Assert.Equal(heads, model.Heads);
        Assert.Equal(8, model.HeadDim);
        Assert.Equal(queryDim, model.QueryDim);
        Assert.Equal(sourceDim, model.SourceDim);
        Assert.Equal(scale, model.Scale);
        Assert.Equal(biases, model.Biases);
        for (int i = 0; i < 2; i++) layers[i].AssertLoadedLayerMatches(model.Layers[i], heads, scale, new Random(i));
    }

    [Fact]
    public void LinearFormatWithoutScaleUsesHeadDimension()
    {
        var random = new Random(42);
        using var folder = new TempFolder();
        var layer = SyntheticLayer.Create(random, 8, 8, 16, AllBiases);
        var writer = new SafetensorsWriter();
        layer.AddTo(writer, "q", "k", "v", "o");
        writer.Write(folder.File("model.safetensors"));
        folder.WriteText("cross_attention.json", """{"format":"linear","heads":4,"layers":[{"q":"q","k":"k","v":"v","o":"o"}]}""");

        var model = ModelLoader.Load(folder.Path);

        Assert.Equal(0.5f, model.Scale);
        layer.AssertLoadedLayerMatches(model.Layers[0], 4, 0.5f, new Random(1));
    }

    [Fact]
    public void UnrelatedTensorsOfOtherDtypesDoNotStopTheLoad()
    {
        var random = new Random(51);
        using var folder = new TempFolder();
        folder.WriteText("config.json", BartConfig("bart", 2, 1, 8));
        var writer = new SafetensorsWriter();
        writer.AddDoubles("decoder.embed_positions.weight", [1, 2, 3, 4], [2, 2]);
        writer.AddInt64("decoder.position_ids", [0, 1, 2], [3]);
        writer.Add("decoder.quantised.weight", "F8_E4M3", [4], [1, 2, 3, 4]);
        writer.Add("decoder.future.weight", "Q4_K", [3], [9, 9, 9]);
        writer.AddFloats("decoder.layer_norm.weight", [float.NaN, 1], [2]);
        var layer = SyntheticLayer.Create(random, 8, 8, 8, AllBiases);
        layer.AddTo(writer, "decoder.layers.0.encoder_attn.q_proj", "decoder.layers.0.encoder_attn.k_proj",
            "decoder.layers.0.encoder_attn.v_proj", "decoder.layers.0.encoder_attn.out_proj");
        writer.Write(folder.File("model.safetensors"));

        var model = ModelLoader.Load(folder.Path);

        layer.AssertLoadedLayerMatches(model.Layers[0], 2, 0.5f, new Random(2));
    }

    internal static string BartConfig(string modelType, int heads, int layers, int dModel) => JsonSerializer.Serialize(new
    {
        model_type = modelType, d_model = dModel, decoder_attention_heads = heads, decoder_layers = layers,
        encoder_attention_heads = heads, encoder_layers = 1, dtype = "float32",
    });
}
