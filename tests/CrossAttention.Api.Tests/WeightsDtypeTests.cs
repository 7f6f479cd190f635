using System.Net;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Tests;

/// <summary>
/// The weights dtype of a model: CrossAttention:WeightsDtype for every model, ModelOverrides:{name}:WeightsDtype for
/// one (the built-in ones included); shown in /models with the bytes the weights hold, and what the engine computes.
/// </summary>
public class WeightsDtypeTests
{
    [Fact]
    public async Task ModelsAreFloat32ByDefaultAndShowTheirWeightBytes()
    {
        await using var factory = new ApiFactory();
        var demo = await (await factory.CreateClient().GetAsync("/models/demo")).ReadObjectAsync();
        Assert.Equal("float32", demo["weightsDtype"]!.GetValue<string>());
        Assert.Equal(DemoModel.Create().WeightBytes, demo["weightBytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task TheServiceWideTypeAndAModelsOverrideAreWhatTheModelsHoldAndComputeWith()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:WeightsDtype"] = "bfloat16";
        factory.Settings["CrossAttention:ModelOverrides:tutorial:WeightsDtype"] = "float16";
        var client = factory.CreateClient();

        var models = Json.ReadArray(await (await client.GetAsync("/models")).Content.ReadAsStringAsync());
        var demo = models.Single(m => m!["name"]!.GetValue<string>() == "demo")!;
        var tutorial = models.Single(m => m!["name"]!.GetValue<string>() == "tutorial")!;
        Assert.Equal("bfloat16", demo["weightsDtype"]!.GetValue<string>());
        Assert.Equal("float16", tutorial["weightsDtype"]!.GetValue<string>());
        var engineModel = DemoModel.Create(weightsType: KeyValueElementType.BFloat16);
        Assert.Equal(engineModel.WeightBytes, demo["weightBytes"]!.GetValue<long>());
        Assert.True(engineModel.WeightBytes < DemoModel.Create().WeightBytes);

        var source = Json.Rows(9, 64, seed: 41);
        var queries = Json.Rows(2, 64, seed: 42);
        var encoded = await client.PostAsync("/encode", Json.Body(new { model = "demo", source }));
        Assert.Equal(HttpStatusCode.Created, encoded.StatusCode);
        string id = (await encoded.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var step = await (await client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 1, queries }))).ReadObjectAsync();

        using var cache = engineModel.Encode(source.SelectMany(r => r).ToArray(), 9, default, ComputeOptions.Default);
        var expected = new float[2 * 64];
        engineModel.Layers[1].Decode(cache.Layers[1], queries.SelectMany(r => r).ToArray(), 2, expected, [], ComputeOptions.Default);
        Assert.Equal(expected, Json.Matrix(step["output"]).SelectMany(r => r).ToArray(), new ToleranceComparer(1e-5f));
    }
}
