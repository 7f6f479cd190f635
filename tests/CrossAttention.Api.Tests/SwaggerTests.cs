using System.Net;
using System.Text.Json.Nodes;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests;

/// <summary>The OpenAPI document lists every endpoint, and its examples work as shown ("Try it out").</summary>
public class SwaggerTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<JsonObject> DocumentAsync()
    {
        var response = await _client.GetAsync("/swagger/v1/swagger.json");
        response.EnsureSuccessStatusCode();
        return await response.ReadObjectAsync();
    }

    [Fact]
    public async Task SwaggerUiIsServed()
    {
        var response = await _client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/models", "get")]
    [InlineData("/models/{name}", "get")]
    [InlineData("/encode", "post")]
    [InlineData("/decode-step", "post")]
    [InlineData("/sessions/{id}/decode-step", "post")]
    [InlineData("/sessions/{id}", "get")]
    [InlineData("/sessions/{id}", "delete")]
    [InlineData("/sessions/{id}", "put")]
    [InlineData("/attention", "post")]
    public async Task EveryEndpointIsDocumentedWithSummaryAndErrors(string path, string method)
    {
        var operation = (await DocumentAsync())["paths"]![path]![method]!.AsObject();
        Assert.False(string.IsNullOrWhiteSpace(operation["summary"]?.GetValue<string>()));
        if (path != "/models")
            Assert.Contains(operation["responses"]!.AsObject(), r => r.Key.StartsWith('4'));
    }

    [Theory]
    [InlineData("/encode", HttpStatusCode.Created)]
    [InlineData("/decode-step", HttpStatusCode.OK)]
    [InlineData("/sessions/{id}/decode-step", HttpStatusCode.OK)]
    [InlineData("/attention", HttpStatusCode.OK)]
    public async Task RequestExamplesSucceedAsShown(string path, HttpStatusCode expected)
    {
        var operation = (await DocumentAsync())["paths"]![path]!["post"]!;
        var example = operation["requestBody"]!["content"]!["application/json"]!["example"]!;
        string url = path.Replace("{id}", PathExample(operation));
        var response = await _client.PostAsync(url, Json.Raw(example.ToJsonString()));
        Assert.True(expected == response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PutExampleCreatesASession()
    {
        var operation = (await DocumentAsync())["paths"]!["/sessions/{id}"]!["put"]!;
        var example = operation["requestBody"]!["content"]!["application/json"]!["example"]!;
        var response = await _client.PutAsync($"/sessions/{PathExample(operation)}", Json.Raw(example.ToJsonString()));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task PathExamplesNameALiveSession()
    {
        var operation = (await DocumentAsync())["paths"]!["/sessions/{id}"]!["get"]!;
        var response = await _client.GetAsync($"/sessions/{PathExample(operation)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ExampleSessionIsRecreatedAfterItIsDeleted()
    {
        string id = PathExample((await DocumentAsync())["paths"]!["/sessions/{id}"]!["delete"]!);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/sessions/{id}")).StatusCode);
        Assert.Equal(id, PathExample((await DocumentAsync())["paths"]!["/sessions/{id}"]!["get"]!));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/sessions/{id}")).StatusCode);
    }

    [Fact]
    public async Task FetchingTheDocumentEncodesAndStoresNothing()
    {
        await using var fresh = new ApiFactory();
        var client = fresh.CreateClient();
        (await client.GetAsync("/swagger/v1/swagger.json")).EnsureSuccessStatusCode();
        Assert.Equal(0, fresh.Services.GetRequiredService<ISessionStore>().Usage.Count);
    }

    [Fact]
    public async Task RawBodiesAreDocumentedAsBinary()
    {
        var content = (await DocumentAsync())["paths"]!["/encode"]!["post"]!["requestBody"]!["content"]!;
        Assert.Equal("binary", content["application/octet-stream"]!["schema"]!["format"]!.GetValue<string>());
    }

    private static string PathExample(JsonNode operation) =>
        operation["parameters"]?.AsArray().FirstOrDefault(p => p!["name"]!.GetValue<string>() == "id")?["example"]?.GetValue<string>() ?? "";
}

/// <summary>Examples are chosen from an endpoint's own metadata (its request type, its route), never from its name.</summary>
public class SwaggerExampleMetadataTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public void AnEndpointOfAnyNameThatAcceptsAnEncodeRequestGetsTheEncodeExample()
    {
        var description = new Microsoft.AspNetCore.Mvc.ApiExplorer.ApiDescription
        {
            HttpMethod = "POST",
            RelativePath = "renamed-encode",
            ActionDescriptor = new Microsoft.AspNetCore.Mvc.Abstractions.ActionDescriptor
            {
                EndpointMetadata =
                [
                    new Microsoft.AspNetCore.Routing.EndpointNameMetadata("AnyNameAtAll"),
                    new Microsoft.AspNetCore.Http.Metadata.AcceptsMetadata([System.Net.Mime.MediaTypeNames.Application.Json], typeof(CrossAttention.Api.Contracts.EncodeRequest)),
                ],
            },
        };
        var operation = new Microsoft.OpenApi.OpenApiOperation
        {
            RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
            {
                Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType> { [System.Net.Mime.MediaTypeNames.Application.Json] = new() },
            },
        };
        var filter = new CrossAttention.Api.Swagger.ExamplesOperationFilter(factory.Services.GetRequiredService<CrossAttention.Api.Swagger.ExampleSession>());
        filter.Apply(operation, new Swashbuckle.AspNetCore.SwaggerGen.OperationFilterContext(description, null!,
            new Swashbuckle.AspNetCore.SwaggerGen.SchemaRepository(), new Microsoft.OpenApi.OpenApiDocument(), null!));

        var example = Assert.IsType<JsonObject>(operation.RequestBody.Content![System.Net.Mime.MediaTypeNames.Application.Json].Example);
        Assert.Equal("tutorial", example["model"]!.GetValue<string>()); // the examples' model when the tutorial is served
        Assert.Equal(ExampleRows, example["source"]!.AsArray().Count);
    }

    private const int ExampleRows = CrossAttention.Api.Swagger.ExampleSession.SourceRows;
}
