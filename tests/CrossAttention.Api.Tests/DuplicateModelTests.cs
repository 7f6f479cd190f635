using System.Net;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests;

/// <summary>A model folder named like the built-in demo model is refused and reported; the demo model keeps serving.</summary>
public sealed class DuplicateModelTests : IDisposable
{
    private readonly string _models = Path.Combine(Path.GetTempPath(), "ca-models-" + Guid.NewGuid().ToString("N"));

    public DuplicateModelTests()
    {
        // The golden bart checkpoint (d 64, 2 layers, 4 heads) under the name "demo".
        string demo = Directory.CreateDirectory(Path.Combine(_models, "demo")).FullName;
        foreach (string file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(GoldenFolder.Path(), "bart", file), Path.Combine(demo, file));
    }

    [Fact]
    public async Task FolderNamedLikeTheDemoModelIsReportedAndDoesNotReplaceIt()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:ModelsDirectory"] = _models;
        var client = factory.CreateClient();
        var session = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) }))).ReadObjectAsync();
        await factory.Services.GetRequiredService<ModelCatalog>().WhenReady;

        var demo = await (await client.GetAsync("/models/demo")).ReadObjectAsync();
        Assert.Equal("demo", demo["family"]!.GetValue<string>());
        var ready = await client.GetAsync("/health/ready");
        Assert.Contains("already served", await ready.Content.ReadAsStringAsync());
        var step = await client.PostAsync($"/sessions/{session["sessionId"]!.GetValue<string>()}/decode-step",
            Json.Body(new { layer = 1, queries = Json.Rows(1, 64, 2) }));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);
    }

    public void Dispose()
    {
        try { Directory.Delete(_models, recursive: true); }
        catch (IOException) { }
    }
}
