using System.Net;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Options;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Tests;

/// <summary>The built-in tutorial model and GET /models/{name}/example.</summary>
public sealed class TutorialExampleTests : IClassFixture<ApiFactory>, IDisposable
{
    private readonly HttpClient _client;
    private readonly string _models = Path.Combine(Path.GetTempPath(), "ca-tutorial-" + Guid.NewGuid().ToString("N"));

    public TutorialExampleTests(ApiFactory factory) => _client = factory.CreateClient();

    [Fact]
    public async Task ExampleHasTheLabelledSentencesAndTokensRoundTripExactly()
    {
        var response = await _client.GetAsync("/models/tutorial/example");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var example = await response.ReadObjectAsync();
        Assert.Equal(["I", "am", "student"], example["source"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(["\u092E\u0948\u0902", "\u091B\u093E\u0924\u094D\u0930", "\u0939\u0942\u0901"],
            example["target"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(3, Json.Matrix(example["source"]!["vectors"]).Length);
        Assert.All(Json.Matrix(example["target"]!["vectors"]), v => Assert.Equal(4, v.Length));
    }

    [Fact]
    public async Task TheTutorialModelIsListedAndTheDemoModelHasNoExample()
    {
        var tutorial = await (await _client.GetAsync("/models/tutorial")).ReadObjectAsync();
        Assert.Equal(1, tutorial["layers"]!.GetValue<int>());
        Assert.Equal(2, tutorial["heads"]!.GetValue<int>());
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync("/models/demo/example"), HttpStatusCode.NotFound);
        Assert.Contains("no example", problem["detail"]!.GetValue<string>());
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/models/nope/example"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task AveragedAttentionOfTheExampleShowsTheReorderingThroughTheApi()
    {
        var example = await (await _client.GetAsync("/models/tutorial/example")).ReadObjectAsync();
        var session = await (await _client.PostAsync("/encode",
            Json.Body(new { model = "tutorial", source = Json.Matrix(example["source"]!["vectors"]) }))).ReadObjectAsync();
        string id = session["sessionId"]!.GetValue<string>();
        int[] expected = [0, 2, 1]; // मैं → I, छात्र → student, हूँ → am
        var targets = Json.Matrix(example["target"]!["vectors"]);
        for (int step = 0; step < 3; step++)
        {
            var result = await (await _client.PostAsync($"/sessions/{id}/decode-step",
                Json.Body(new { layer = 0, queries = new[] { targets[step] }, returnAttention = true }))).ReadObjectAsync();
            var heads = Json.Tensor3(result["attention"]); // [heads, 1, m]
            var averaged = Enumerable.Range(0, 3).Select(j => heads.Average(h => h[0][j])).ToArray();
            Assert.Equal(1.0, averaged.Sum(), 5);
            Assert.True(averaged[expected[step]] >= 0.7, $"step {step}: {string.Join(", ", averaged)}");
        }
    }

    [Fact]
    public async Task AModelFolderNamedTutorialIsRefusedAndTheBuiltInKeepsServing()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_models, "tutorial")).FullName;
        foreach (string file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(GoldenFolder.Path(), "bart", file), Path.Combine(folder, file));
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:ModelsDirectory"] = _models;
        var client = factory.CreateClient();
        await factory.Services.GetRequiredService<ModelCatalog>().WhenReady;

        var tutorial = await (await client.GetAsync("/models/tutorial")).ReadObjectAsync();
        Assert.Equal("tutorial", tutorial["family"]!.GetValue<string>());
        string ready = await (await client.GetAsync("/health/ready")).Content.ReadAsStringAsync();
        Assert.Contains("'tutorial' is a built-in model; rename the folder", ready);
    }

    [Fact]
    public void TheTutorialModelCountsAsAServedModelAtStartUp()
    {
        Assert.Null(Validate(("CrossAttention:Demo:Enabled", "false")));
        string? error = Validate(("CrossAttention:Demo:Enabled", "false"), ("CrossAttention:Tutorial:Enabled", "false"));
        Assert.NotNull(error);
        Assert.Contains("CrossAttention:Tutorial:Enabled", error);
    }

    [Fact]
    public async Task WithTheTutorialDisabledItIsNotServed()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Tutorial:Enabled"] = "false";
        var client = factory.CreateClient();
        await ProblemAssert.IsProblemAsync(await client.GetAsync("/models/tutorial"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("/models/tutorial/example"), HttpStatusCode.NotFound);
    }

    private static string? Validate(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddCrossAttention();
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptions<CrossAttentionOptions>>().Value;
            return null;
        }
        catch (OptionsValidationException e)
        {
            return e.Message;
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_models, recursive: true); }
        catch (IOException) { }
    }
}
