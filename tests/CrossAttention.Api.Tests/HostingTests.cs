using System.Net;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Options;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Scheduling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Tests;

public class HostingTests
{
    [Fact]
    public async Task HealthEndpointsAnswer()
    {
        await using var factory = new ApiFactory();
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        await factory.Services.GetRequiredService<ModelCatalog>().WhenReady;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Theory]
    [InlineData("CrossAttention:Cache:SizeLimitBytes", "0")]
    [InlineData("CrossAttention:Cache:DefaultTtlSeconds", "-5")]
    [InlineData("CrossAttention:Limits:MaxQueries", "0")]
    [InlineData("CrossAttention:Demo:Heads", "5")]
    [InlineData("CrossAttention:ModelsDirectory", "/no/such/directory")]
    [InlineData("CrossAttention:Compute:Variant", "Vector1024")]
    [InlineData("CrossAttention:Cache:KvDtype", "float8")]
    [InlineData("CrossAttention:WeightsDtype", "float8")]
    [InlineData("CrossAttention:ModelOverrides:demo:WeightsDtype", "int4")]
    [InlineData("CrossAttention:Cache:WhenFull", "sometimes")]
    [InlineData("CrossAttention:Limits:MaxAdmittedExpensiveRequests", "2")]   // below MaxConcurrentExpensiveRequests (4)
    public void InvalidSettingsAreRejectedNamingTheKey(string key, string value)
    {
        // The same registration the app makes (ValidateOnStart runs this validation before the server starts).
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddCrossAttention();
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<CrossAttentionOptions>>().Value);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void DefaultSettingsAreValid()
    {
        var services = new ServiceCollection().AddSingleton<IConfiguration>(new ConfigurationBuilder().Build()).AddLogging();
        services.AddCrossAttention();
        using var provider = services.BuildServiceProvider();
        Assert.True(provider.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Demo.Enabled);
    }

    [Fact]
    public async Task AForcedKernelVariantIsWhatTheServiceComputesWith()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Compute:Variant"] = "scalar";
        var client = factory.CreateClient();
        Assert.Equal(KernelVariant.Scalar, factory.Services.GetRequiredService<ComputeGate>().Variant);
        await factory.Services.GetRequiredService<CrossAttention.Api.Catalog.ModelCatalog>().WhenReady;
        var encoded = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(5, 64, seed: 1) }));
        Assert.Equal(HttpStatusCode.Created, encoded.StatusCode);
        string id = (await encoded.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var step = await client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(2, 64, seed: 2) }));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);
    }

    [Fact]
    public async Task AnEncodeTakesItsBuffersFromTheServicesPoolWhoseLimitIsConfigured()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Cache:RecycledBytesLimit"] = "100000000";
        var client = factory.CreateClient();
        var pool = factory.Services.GetRequiredService<KeyValueBufferPool>();
        Assert.Equal(100_000_000, pool.LimitBytes);
        await factory.Services.GetRequiredService<CrossAttention.Api.Catalog.ModelCatalog>().WhenReady;
        // A cache of the shape a demo layer makes for 400 positions leaves its buffers in the pool.
        var projected = new float[400 * 64];
        KeyValueCache.Create(projected, projected, 400, heads: 4, headDim: 16, [], pool).Dispose();
        long before = pool.PooledBytes;
        Assert.True(before > 0);

        var encoded = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(400, 64, seed: 1) }));

        Assert.Equal(HttpStatusCode.Created, encoded.StatusCode);
        Assert.Equal(0, pool.PooledBytes); // the encode took them
    }

    [Fact]
    public async Task DemoModelSizeIsConfigurable()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Demo:Layers"] = "6";
        factory.Settings["CrossAttention:Demo:DModel"] = "512";
        factory.Settings["CrossAttention:Demo:Heads"] = "8";
        var demo = await (await factory.CreateClient().GetAsync("/models/demo")).ReadObjectAsync();
        Assert.Equal(6, demo["layers"]!.GetValue<int>());
        Assert.Equal(512, demo["queryDim"]!.GetValue<int>());
        Assert.Equal(64, demo["headDim"]!.GetValue<int>());
    }
}
