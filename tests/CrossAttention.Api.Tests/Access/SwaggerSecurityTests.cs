using System.Net;
using System.Text.Json.Nodes;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Access;

public sealed class SwaggerSecurityTests(KeyedApiFactory factory) : IClassFixture<KeyedApiFactory>
{
    [Fact]
    public async Task TheDocumentOffersBearerAndXApiKeyOnEveryProtectedOperation()
    {
        var document = await DocumentAsync(factory);
        var schemes = document["components"]!["securitySchemes"]!;
        Assert.Equal("http", schemes["Bearer"]!["type"]!.GetValue<string>());
        Assert.Equal("bearer", schemes["Bearer"]!["scheme"]!.GetValue<string>());
        Assert.Equal("apiKey", schemes["ApiKey"]!["type"]!.GetValue<string>());
        Assert.Equal("header", schemes["ApiKey"]!["in"]!.GetValue<string>());
        Assert.Equal("X-Api-Key", schemes["ApiKey"]!["name"]!.GetValue<string>());

        int operations = 0;
        foreach (var (_, path) in document["paths"]!.AsObject())
            foreach (var (_, operation) in path!.AsObject())
            {
                operations++;
                var alternatives = operation!["security"]!.AsArray().Select(r => Assert.Single(r!.AsObject()).Key).ToArray();
                Assert.Equal(["Bearer", "ApiKey"], alternatives);
                Assert.NotNull(operation["responses"]!["401"]);
            }
        Assert.True(operations >= 8);
    }

    [Fact]
    public async Task WithoutKeysTheDocumentHasNoSecurity()
    {
        using var open = new ApiFactory();
        var document = await DocumentAsync(open);
        Assert.Null(document["components"]?["securitySchemes"]);
    }

    [Fact]
    public async Task TheEncodeExamplesWorkWithAKey()
    {
        var document = await DocumentAsync(factory);
        var client = factory.ClientFor(KeyedApiFactory.TeamA);
        var encode = document["paths"]!["/encode"]!["post"]!["requestBody"]!["content"]!["application/json"]!["example"]!;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/encode", Json.Raw(encode.ToJsonString()))).StatusCode);
        var attention = document["paths"]!["/attention"]!["post"]!["requestBody"]!["content"]!["application/json"]!["example"]!;
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/attention", Json.Raw(attention.ToJsonString()))).StatusCode);
    }

    [Fact]
    public async Task TheSessionExamplesWorkForEachKeyOnItsOwnExampleSession()
    {
        var document = await DocumentAsync(factory);
        var step = document["paths"]!["/sessions/{id}/decode-step"]!["post"]!;
        string id = step["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "id")!["example"]!.GetValue<string>();
        string body = step["requestBody"]!["content"]!["application/json"]!["example"]!.ToJsonString();
        var byBody = document["paths"]!["/decode-step"]!["post"]!["requestBody"]!["content"]!["application/json"]!["example"]!;
        foreach (var key in new[] { KeyedApiFactory.TeamA, KeyedApiFactory.TeamB })
        {
            var client = factory.ClientFor(key);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sessions/{id}/decode-step", Json.Raw(body))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/decode-step", Json.Raw(byBody.ToJsonString()))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/sessions/{id}")).StatusCode);
        }
        // Each key got its own example session: deleting one key's leaves the other's.
        Assert.Equal(HttpStatusCode.NoContent, (await factory.ClientFor(KeyedApiFactory.TeamA).DeleteAsync($"/sessions/{id}")).StatusCode);
        var store = factory.Services.GetRequiredService<CrossAttention.Api.Sessions.ISessionStore>();
        Assert.NotNull(await store.GetAsync(new CrossAttention.Api.Sessions.SessionKey(KeyedApiFactory.TeamB, id), CancellationToken.None));
    }

    private static async Task<JsonObject> DocumentAsync(ApiFactory app)
    {
        await app.Services.GetRequiredService<ModelCatalog>().WhenReady;
        return JsonNode.Parse(await app.CreateClient().GetStringAsync("/swagger/v1/swagger.json"))!.AsObject();
    }
}
