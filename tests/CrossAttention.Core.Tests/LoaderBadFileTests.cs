using System.Buffers.Binary;
using System.Text.Json.Nodes;
using CrossAttention.Core.Models;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

/// <summary>
/// Broken checkpoints: each must fail with exactly a <see cref="ModelLoadException"/> whose message names the file
/// and, where one is to blame, the tensor; never another exception type.
/// </summary>
public class LoaderBadFileTests
{
    private const int DModel = 16, Heads = 2, Layers = 2;
    private const string Checkpoint = "model.safetensors";

    private static string Tensor(int layer, string projection, string part = "weight") =>
        $"decoder.layers.{layer}.encoder_attn.{projection}.{part}";

    /// <summary>A valid two-layer bart folder, then whatever damage the test asks for.</summary>
    private static TempFolder BartFolder(Action<SafetensorsWriter>? editTensors = null, Func<string, string>? editHeader = null,
        Func<byte[], byte[]>? editBytes = null, string? config = null)
    {
        var folder = new TempFolder("broken");
        var random = new Random(7);
        folder.WriteText("config.json", config ?? LoaderTests.BartConfig("bart", Heads, Layers, DModel));
        var writer = new SafetensorsWriter();
        for (int i = 0; i < Layers; i++)
            SyntheticLayer.Create(random, DModel, DModel, DModel, new ProjectionBiases(true, true, true, true))
                .AddTo(writer, Module(i, "q_proj"), Module(i, "k_proj"), Module(i, "v_proj"), Module(i, "out_proj"));
        editTensors?.Invoke(writer);
        byte[] bytes = writer.ToBytes(editHeader);
        File.WriteAllBytes(folder.File(Checkpoint), editBytes?.Invoke(bytes) ?? bytes);
        return folder;

        static string Module(int i, string p) => $"decoder.layers.{i}.encoder_attn.{p}";
    }

    private static Func<string, string> EditEntry(string tensor, Action<JsonObject> edit) => header =>
    {
        var root = JsonNode.Parse(header)!.AsObject();
        edit(root[tensor]!.AsObject());
        return root.ToJsonString();
    };

    private static string IndexJson(params (string Tensor, string Shard)[] map) =>
        System.Text.Json.JsonSerializer.Serialize(new { metadata = new { }, weight_map = map.ToDictionary(e => e.Tensor, e => e.Shard) });

    private static ModelLoadException AssertLoadFails(string folder, params string[] fragments)
    {
        var error = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(folder));
        foreach (string fragment in fragments)
            Assert.True(error.Message.Contains(fragment, StringComparison.Ordinal), $"'{fragment}' is not in: {error.Message}");
        return error;
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var folder = BartFolder(w => w.Remove(Tensor(1, "v_proj")));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(1, "v_proj")}'", "missing");
    }

    [Fact]
    public void MissingDecoderLayerIsNamed()
    {
        using var folder = BartFolder(config: LoaderTests.BartConfig("bart", Heads, 3, DModel));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(2, "q_proj")}'", "missing");
    }

    [Fact]
    public void CheckpointWithoutAnyCrossAttentionIsNamed()
    {
        using var folder = BartFolder(config: LoaderTests.BartConfig("bart", Heads, Layers, DModel).Replace("\"bart\"", "\"whisper\""),
            editTensors: w => { foreach (string n in w.Names.ToArray()) w.Remove(n); w.AddFloats("encoder.conv1.weight", [1], [1]); });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "q_proj")}'", "whisper");
    }

    [Fact]
    public void WrongShapeNamesTensorAndBothShapes()
    {
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(1, "q_proj"));
            w.AddFloats(Tensor(1, "q_proj"), new float[DModel * 12], [DModel, 12]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"tensor '{Tensor(1, "q_proj")}' has shape [16, 12], expected [16, 16]");
    }

    [Fact]
    public void WrongKeyRowsAreNamed()
    {
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(0, "k_proj"));
            w.AddFloats(Tensor(0, "k_proj"), new float[12 * DModel], [12, DModel]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "k_proj")}' has shape [12, 16], expected [16, 16]");
    }

    [Fact]
    public void WrongRankIsNamed()
    {
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(0, "out_proj"));
            w.AddFloats(Tensor(0, "out_proj"), new float[DModel * DModel], [2, 8, DModel]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "out_proj")}' has shape [2, 8, 16], expected rank 2");
    }

    [Fact]
    public void WrongBiasLengthIsNamed()
    {
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(0, "k_proj", "bias"));
            w.AddFloats(Tensor(0, "k_proj", "bias"), new float[DModel - 1], [DModel - 1]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "k_proj", "bias")}' has shape [15], expected [16]");
    }

    [Fact]
    public void HeadsThatDoNotDivideTheInnerSizeAreNamed()
    {
        using var folder = BartFolder(config: LoaderTests.BartConfig("bart", 3, Layers, DModel));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "q_proj")}'", "not a multiple of 3 heads");
    }

    [Theory]
    [InlineData("F64")]
    [InlineData("I64")]
    [InlineData("F8_E4M3")]
    public void UnsupportedDtypeOfAUsedTensorIsNamed(string dtype)
    {
        int size = dtype switch { "F64" or "I64" => 8, _ => 1 };
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(0, "v_proj"));
            w.Add(Tensor(0, "v_proj"), dtype, [DModel, DModel], new byte[DModel * DModel * size]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "v_proj")}'", $"unsupported dtype {dtype}");
    }

    [Theory]
    [InlineData("F32", float.NaN)]
    [InlineData("F32", float.PositiveInfinity)]
    [InlineData("F16", float.NegativeInfinity)]
    [InlineData("BF16", float.NaN)]
    public void NonFiniteWeightIsNamed(string dtype, float bad)
    {
        var values = new float[DModel * DModel];
        values[37] = bad;
        using var folder = BartFolder(w =>
        {
            w.Remove(Tensor(1, "out_proj"));
            w.AddFloats(Tensor(1, "out_proj"), values, [DModel, DModel], dtype);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(1, "out_proj")}'", "non-finite", "index 37");
    }

    [Fact]
    public void UnsupportedModelTypeNamesConfigAndType()
    {
        using var folder = BartFolder(config: """{"model_type":"gpt2","n_layer":2}""");
        AssertLoadFails(folder.Path, "config.json", "model_type 'gpt2'", "not supported");
    }

    [Theory]
    [InlineData("""{"d_model":16}""", "'model_type'")]
    [InlineData("""{"model_type":"bart","decoder_layers":2}""", "'decoder_attention_heads'")]
    [InlineData("""{"model_type":"bart","decoder_attention_heads":2,"decoder_layers":0}""", "'decoder_layers'")]
    [InlineData("""{"model_type":"t5","num_heads":2,"d_kv":8}""", "'num_layers'")]
    [InlineData("""{"model_type":"bart",""", "not valid JSON")]
    [InlineData("""[1,2]""", "not a JSON object")]
    public void BadConfigNamesConfigAndKey(string config, string fragment)
    {
        using var folder = BartFolder(config: config);
        AssertLoadFails(folder.Path, "config.json", fragment);
    }

    [Fact]
    public void T5InnerSizeMustMatchHeadsTimesDkv()
    {
        using var folder = new TempFolder();
        folder.WriteText("config.json", """{"model_type":"t5","d_model":16,"d_kv":4,"num_heads":2,"num_decoder_layers":1}""");
        var writer = new SafetensorsWriter();
        SyntheticLayer.Create(new Random(1), 16, 16, 16, new ProjectionBiases(false, false, false, false))
            .AddTo(writer, "decoder.block.0.layer.1.EncDecAttention.q", "decoder.block.0.layer.1.EncDecAttention.k",
                "decoder.block.0.layer.1.EncDecAttention.v", "decoder.block.0.layer.1.EncDecAttention.o");
        writer.Write(folder.File(Checkpoint));
        AssertLoadFails(folder.Path, Checkpoint, "'decoder.block.0.layer.1.EncDecAttention.q.weight' has shape [16, 16], expected [8, 16]");
    }

    [Fact]
    public void TruncatedFileNamesFileAndTheTensorCut()
    {
        using var folder = BartFolder(editBytes: bytes => bytes[..^10]);
        // Tensors are packed in the order added: the last one written is layer 1's out_proj bias.
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(1, "out_proj", "bias")}'", "beyond the data region");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void FileShorterThanItsLengthFieldIsTruncated(int length)
    {
        using var folder = BartFolder(editBytes: bytes => bytes[..length]);
        AssertLoadFails(folder.Path, Checkpoint, "truncated");
    }

    [Theory]
    [InlineData(1_000_000UL)]
    [InlineData(ulong.MaxValue)]
    public void HeaderLengthBeyondTheFileIsNamed(ulong headerLength)
    {
        using var folder = BartFolder(editBytes: bytes =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
            return bytes;
        });
        AssertLoadFails(folder.Path, Checkpoint, $"header length {headerLength}", "past the end of the file");
    }

    [Fact]
    public void HeaderLengthOverTheFormatLimitIsRejected()
    {
        using var folder = BartFolder();
        using (var stream = new FileStream(folder.File(Checkpoint), FileMode.Open, FileAccess.ReadWrite))
        {
            // Sparse on most file systems: the file is long enough to hold the claimed header, which is still absurd.
            stream.SetLength(200_000_100);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, 200_000_000);
            stream.Write(length);
        }
        AssertLoadFails(folder.Path, Checkpoint, "exceeds the format's limit");
    }

    [Fact]
    public void DataOffsetsBeyondTheDataAreNamed()
    {
        using var folder = BartFolder(editHeader: EditEntry(Tensor(0, "q_proj"), e => e["data_offsets"] = new JsonArray(0, 99_999_999)));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "q_proj")}'", "beyond the data region");
    }

    [Fact]
    public void DataOffsetsInconsistentWithTheShapeAreNamed()
    {
        using var folder = BartFolder(editHeader: EditEntry(Tensor(1, "k_proj"), e => e["shape"] = new JsonArray(DModel, 8)));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(1, "k_proj")}'", "needs 512 bytes");
    }

    [Fact]
    public void DataOffsetsEndingBeforeTheyBeginAreNamed()
    {
        using var folder = BartFolder(editHeader: EditEntry(Tensor(0, "v_proj", "bias"), e => e["data_offsets"] = new JsonArray(64, 0)));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "v_proj", "bias")}'", "end before they begin");
    }

    [Theory]
    [InlineData("shape", "[-1, 16]")]
    [InlineData("shape", "\"16x16\"")]
    [InlineData("data_offsets", "[0]")]
    [InlineData("data_offsets", "[0.5, 1024]")]
    [InlineData("dtype", "4")]
    public void MalformedHeaderEntryIsNamed(string field, string json)
    {
        using var folder = BartFolder(editHeader: EditEntry(Tensor(0, "out_proj"), e => e[field] = JsonNode.Parse(json)));
        AssertLoadFails(folder.Path, Checkpoint, $"'{Tensor(0, "out_proj")}'");
    }

    [Theory]
    [InlineData("{\"a\": ")]
    [InlineData("not json at all")]
    public void InvalidJsonHeaderNamesTheFile(string header)
    {
        using var folder = BartFolder(editHeader: _ => header);
        AssertLoadFails(folder.Path, Checkpoint, "header is not valid JSON");
    }

    [Fact]
    public void HeaderThatIsNotAnObjectNamesTheFile()
    {
        using var folder = BartFolder(editHeader: _ => "[1, 2, 3]");
        AssertLoadFails(folder.Path, Checkpoint, "not an object");
    }

    [Fact]
    public void DuplicateTensorInTheHeaderIsNamed()
    {
        string name = Tensor(0, "q_proj", "bias");
        using var folder = BartFolder(editHeader: header =>
        {
            int at = header.IndexOf($"\"{name}\"", StringComparison.Ordinal);
            int end = header.IndexOf('}', at) + 1;
            return header.Insert(end, "," + header[at..end]);
        });
        AssertLoadFails(folder.Path, Checkpoint, $"'{name}' appears twice");
    }

    [Fact]
    public void FolderWithoutConfigOrCrossAttentionJsonSaysWhatIsMissing()
    {
        using var folder = BartFolder();
        File.Delete(folder.File("config.json"));
        AssertLoadFails(folder.Path, folder.Path, "config.json", "cross_attention.json");
    }

    [Fact]
    public void FolderWithConfigButNoWeightsNamesTheWeights()
    {
        using var folder = BartFolder();
        File.Delete(folder.File(Checkpoint));
        AssertLoadFails(folder.Path, Checkpoint, "not found");
    }

    [Fact]
    public void FolderWithOnlyPickledWeightsSaysSo()
    {
        using var folder = BartFolder();
        File.Move(folder.File(Checkpoint), folder.File("pytorch_model.bin"));
        AssertLoadFails(folder.Path, Checkpoint, "not found", "save them as safetensors");
    }

    [Fact]
    public void FolderThatDoesNotExistIsALoadError()
    {
        using var folder = new TempFolder();
        AssertLoadFails(Path.Combine(folder.Path, "absent"), "absent", "not a folder");
    }

    [Fact]
    public void UnreadableCheckpointPathIsALoadError()
    {
        using var folder = BartFolder();
        File.Delete(folder.File(Checkpoint));
        Directory.CreateDirectory(folder.File(Checkpoint));   // a folder where the file should be
        AssertLoadFails(folder.Path, Checkpoint);
    }

    [Fact]
    public void ShardedIndexPointingAtAMissingShardNamesIt()
    {
        using var folder = BartFolder();
        File.Move(folder.File(Checkpoint), folder.File("model-00001-of-00002.safetensors"));
        folder.WriteText("model.safetensors.index.json", IndexJson(
            (Tensor(0, "q_proj"), "model-00001-of-00002.safetensors"),
            (Tensor(0, "q_proj", "bias"), "model-00002-of-00002.safetensors")));
        AssertLoadFails(folder.Path, "model-00002-of-00002.safetensors", $"'{Tensor(0, "q_proj", "bias")}'", "not found");
    }

    [Fact]
    public void ShardedIndexWithoutATensorNamesIndexAndTensor()
    {
        using var folder = BartFolder();
        File.Move(folder.File(Checkpoint), folder.File("model-00001-of-00001.safetensors"));
        folder.WriteText("model.safetensors.index.json", IndexJson((Tensor(0, "q_proj"), "model-00001-of-00001.safetensors")));
        AssertLoadFails(folder.Path, "model.safetensors.index.json", $"'{Tensor(0, "k_proj")}'", "missing from weight_map");
    }

    [Fact]
    public void ShardThatLacksAMappedTensorNamesShardAndTensor()
    {
        using var folder = BartFolder(w => w.Remove(Tensor(1, "out_proj")));
        File.Move(folder.File(Checkpoint), folder.File("model-00001-of-00001.safetensors"));
        var names = new List<string>();
        for (int i = 0; i < Layers; i++)
            foreach (string p in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
                names.Add(Tensor(i, p));
        folder.WriteText("model.safetensors.index.json",
            IndexJson(names.Select(n => (n, "model-00001-of-00001.safetensors")).ToArray()));
        AssertLoadFails(folder.Path, "model-00001-of-00001.safetensors", $"'{Tensor(1, "out_proj")}'", "missing");
    }

    [Theory]
    [InlineData("{\"weight_map\": ", "not valid JSON")]
    [InlineData("{\"metadata\": {}}", "no weight_map")]
    [InlineData("{\"weight_map\": {\"a\": 3}}", "tensor 'a'")]
    public void BadShardIndexIsNamed(string index, string fragment)
    {
        using var folder = BartFolder();
        File.Delete(folder.File(Checkpoint));
        folder.WriteText("model.safetensors.index.json", index);
        AssertLoadFails(folder.Path, "model.safetensors.index.json", fragment);
    }

    [Theory]
    [InlineData("../model.safetensors")]
    [InlineData("/etc/passwd")]
    public void ShardOutsideTheFolderIsRejected(string shard)
    {
        using var folder = BartFolder();
        File.Delete(folder.File(Checkpoint));
        folder.WriteText("model.safetensors.index.json", IndexJson((Tensor(0, "q_proj"), shard)));
        AssertLoadFails(folder.Path, "model.safetensors.index.json", $"'{Tensor(0, "q_proj")}'");
    }

    [Theory]
    [InlineData("""{"format":"onnx","heads":2}""", "format 'onnx'")]
    [InlineData("""{"heads":2}""", "'format'")]
    [InlineData("""{"format":"torch-mha"}""", "'heads'")]
    [InlineData("""{"format":"linear","heads":2}""", "'layers'")]
    [InlineData("""{"format":"linear","heads":2,"layers":[{"q":"a","k":"b","v":"c"}]}""", "layers[0] has no 'o'")]
    [InlineData("""{"format":"linear","heads":2,"scale":-1,"layers":[{"q":"a","k":"b","v":"c","o":"d"}]}""", "'scale'")]
    [InlineData("""{"format":"linear","heads":2,"weights":"../secret.safetensors","layers":[{"q":"a","k":"b","v":"c","o":"d"}]}""", "inside the model folder")]
    [InlineData("""{"format":"linear","heads":2,"weights":"absent.safetensors","layers":[{"q":"a","k":"b","v":"c","o":"d"}]}""", "absent.safetensors")]
    [InlineData("""{"format":"linear","heads":2,"layers":[{"q":"a","k":"b","v":"c","o":"d"}]}""", "'a.weight' is missing")]
    [InlineData("""{"format":"torch-mha","heads":2,"prefix":"x"}""", "'x.out_proj.weight' is missing")]
    [InlineData("""{"format":"linear",""", "not valid JSON")]
    public void BadCrossAttentionJsonIsNamed(string spec, string fragment)
    {
        using var folder = BartFolder();
        folder.WriteText("cross_attention.json", spec);
        AssertLoadFails(folder.Path, fragment.Contains(".weight") ? Checkpoint : fragment.Contains(".safetensors") ? fragment : "cross_attention.json", fragment);
    }

    [Fact]
    public void TorchMhaWithDifferentKdimAndVdimIsRejected()
    {
        using var folder = new TempFolder();
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"mha","heads":2}""");
        new SafetensorsWriter()
            .AddFloats("mha.q_proj_weight", new float[64], [8, 8])
            .AddFloats("mha.k_proj_weight", new float[48], [8, 6])
            .AddFloats("mha.v_proj_weight", new float[40], [8, 5])
            .AddFloats("mha.out_proj.weight", new float[64], [8, 8])
            .Write(folder.File(Checkpoint));
        AssertLoadFails(folder.Path, Checkpoint, "'mha.v_proj_weight'", "vdim 5 differs from kdim 6");
    }

    [Fact]
    public void TorchMhaWithAddBiasKvIsRejected()
    {
        using var folder = new TempFolder();
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"mha","heads":2}""");
        new SafetensorsWriter()
            .AddFloats("mha.in_proj_weight", new float[192], [24, 8])
            .AddFloats("mha.bias_k", new float[8], [1, 1, 8])
            .AddFloats("mha.out_proj.weight", new float[64], [8, 8])
            .Write(folder.File(Checkpoint));
        AssertLoadFails(folder.Path, Checkpoint, "'mha.bias_k'", "add_bias_kv");
    }

    [Fact]
    public void TorchMhaPackedWeightOfWrongShapeIsNamed()
    {
        using var folder = new TempFolder();
        folder.WriteText("cross_attention.json", """{"format":"torch-mha","prefix":"mha","heads":2}""");
        new SafetensorsWriter()
            .AddFloats("mha.in_proj_weight", new float[128], [16, 8])
            .AddFloats("mha.out_proj.weight", new float[64], [8, 8])
            .Write(folder.File(Checkpoint));
        AssertLoadFails(folder.Path, Checkpoint, "'mha.in_proj_weight' has shape [16, 8], expected [24, 8]");
    }

    [Fact]
    public void LinearLayersOfDifferentSizesAreNamed()
    {
        using var folder = new TempFolder();
        var writer = new SafetensorsWriter();
        var random = new Random(3);
        var biases = new ProjectionBiases(false, false, false, false);
        SyntheticLayer.Create(random, 8, 8, 8, biases).AddTo(writer, "a.q", "a.k", "a.v", "a.o");
        SyntheticLayer.Create(random, 8, 6, 8, biases).AddTo(writer, "b.q", "b.k", "b.v", "b.o");
        writer.Write(folder.File(Checkpoint));
        folder.WriteText("cross_attention.json",
            """{"format":"linear","heads":2,"layers":[{"q":"a.q","k":"a.k","v":"a.v","o":"a.o"},{"q":"b.q","k":"b.k","v":"b.v","o":"b.o"}]}""");
        AssertLoadFails(folder.Path, Checkpoint, "'b.k.weight' has shape [8, 6], expected [8, 8]");
    }
}
