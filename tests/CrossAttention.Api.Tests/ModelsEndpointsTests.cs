using System.Net;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Features.Models;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

public class ModelsEndpointsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ListsTheDemoModelWithItsShape()
    {
        var response = await factory.CreateClient().GetAsync("/models");
        response.EnsureSuccessStatusCode();
        var models = Json.ReadArray(await response.Content.ReadAsStringAsync());
        var demo = models.Single(m => m!["name"]!.GetValue<string>() == "demo")!;
        Assert.Equal("demo", demo["family"]!.GetValue<string>());
        Assert.Equal(2, demo["layers"]!.GetValue<int>());
        Assert.Equal(4, demo["heads"]!.GetValue<int>());
        Assert.Equal(16, demo["headDim"]!.GetValue<int>());
        Assert.Equal(64, demo["queryDim"]!.GetValue<int>());
        Assert.Equal(64, demo["sourceDim"]!.GetValue<int>());
        Assert.Equal(0.25f, demo["scale"]!.GetValue<float>());
        foreach (string p in new[] { "q", "k", "v", "o" }) Assert.True(demo["biases"]![p]!.GetValue<bool>());
    }

    [Fact]
    public async Task GetsOneModelByName()
    {
        var response = await factory.CreateClient().GetAsync("/models/demo");
        response.EnsureSuccessStatusCode();
        var demo = await response.ReadObjectAsync();
        Assert.Equal("demo", demo["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnknownModelIsProblem404()
    {
        var response = await factory.CreateClient().GetAsync("/models/no-such-model");
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("no-such-model", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public void UnknownModelWhileLoadingSaysModelsAreStillLoading()
    {
        var catalog = new ModelCatalog(Microsoft.Extensions.Options.Options.Create(new CrossAttentionOptions()));  // not ready yet
        var result = Assert.IsType<NotFoundProblem>(ModelsEndpoints.Get("whisper-base", catalog).Result);
        Assert.Contains("still loading", result.Value.Detail);
    }
}
