using System.Net;
using System.Text.Json.Nodes;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>The OpenAPI document as a generated client reads it: named schemas, required fields, headers, raw forms.</summary>
public class OpenApiDocumentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<JsonObject> DocumentAsync() =>
        JsonNode.Parse(await _client.GetStringAsync("/swagger/v1/swagger.json"))!.AsObject();

    private static JsonNode Operation(JsonObject document, string path, string method) => document["paths"]![path]![method]!;

    private static JsonObject Schema(JsonObject document, string name) => document["components"]!["schemas"]![name]!.AsObject();

    [Fact]
    public async Task TheDocumentIsTheSameOnEveryFetch()
    {
        string first = await _client.GetStringAsync("/swagger/v1/swagger.json");
        string second = await _client.GetStringAsync("/swagger/v1/swagger.json");
        Assert.Equal(first, second);
    }

    [Theory]
    [InlineData("/decode-step")]
    [InlineData("/sessions/{id}/decode-step")]
    [InlineData("/attention")]
    public async Task EveryAttentionResponseReferencesTheOneNamedComponent(string path)
    {
        var document = await DocumentAsync();
        var schema = Operation(document, path, "post")["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        Assert.Equal("#/components/schemas/AttentionResult", schema["$ref"]?.GetValue<string>());
        var component = Schema(document, "AttentionResult");
        Assert.Contains("output", component["required"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.NotNull(component["properties"]!["attention"]);
    }

    [Theory]
    [InlineData("EncodeRequest", "model,source")]
    [InlineData("DecodeStepRequest", "layer,queries")]
    [InlineData("AttentionRequest", "model,layer,source,queries")]
    public async Task RequestSchemasListTheirRequiredFields(string schema, string required)
    {
        var listed = Schema(await DocumentAsync(), schema)["required"]?.AsArray().Select(r => r!.GetValue<string>()).ToHashSet() ?? [];
        Assert.Subset(listed, required.Split(',').ToHashSet());
    }

    [Theory]
    [InlineData("EncodeRequest", "kvDtype")]
    [InlineData("Session", "kvDtype")]
    [InlineData("ModelInfo", "weightsDtype")]
    public async Task DtypesAreDocumentedAsTheirThreeValues(string schema, string field)
    {
        var property = Schema(await DocumentAsync(), schema)["properties"]![field]!;
        Assert.Equal(["float32", "float16", "bfloat16"], property["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Theory]
    [InlineData("Session", "sessionId")]
    [InlineData("Session", "model")]
    [InlineData("ModelInfo", "name")]
    [InlineData("ModelInfo", "family")]
    [InlineData("ModelInfo", "weightsDtype")]
    public async Task FieldsThatAreNeverNullAreRequiredAndNotNullable(string schema, string field)
    {
        var component = Schema(await DocumentAsync(), schema);
        Assert.Contains(field, component["required"]!.AsArray().Select(r => r!.GetValue<string>()));
        var property = component["properties"]![field]!;
        Assert.False(property["nullable"]?.GetValue<bool>() ?? false, property.ToJsonString());
        Assert.DoesNotContain("null", property["type"] is JsonArray types ? types.Select(t => t!.GetValue<string>()) : []);
    }

    [Theory]
    [InlineData("/encode", "post", "201", "Location")]
    [InlineData("/sessions/{id}", "put", "201", "Location")]
    [InlineData("/encode", "post", "507", "Retry-After")]
    [InlineData("/sessions/{id}", "put", "507", "Retry-After")]
    [InlineData("/decode-step", "post", "200", "X-Output-Shape")]
    [InlineData("/decode-step", "post", "200", "X-Attention-Shape")]
    [InlineData("/sessions/{id}/decode-step", "post", "200", "X-Output-Shape")]
    [InlineData("/attention", "post", "200", "X-Attention-Shape")]
    public async Task ResponseHeadersAreDeclared(string path, string method, string status, string header)
    {
        var response = Operation(await DocumentAsync(), path, method)["responses"]![status]!;
        Assert.NotNull(response["headers"]?[header]?["schema"]);
    }

    [Theory]
    [InlineData("/encode", "post", "503,408,413,415,507")]
    [InlineData("/sessions/{id}", "put", "503,408,413,409,415,507")]
    [InlineData("/attention", "post", "503,408,413,415")]
    [InlineData("/decode-step", "post", "503,408,413")]
    [InlineData("/sessions/{id}/decode-step", "post", "503,408,413")]
    [InlineData("/sessions/{id}", "get", "503")]
    [InlineData("/models", "get", "503")]
    public async Task TheRefusalsAnOperationCanGiveAreDeclaredAsProblemJson(string path, string method, string statuses)
    {
        var responses = Operation(await DocumentAsync(), path, method)["responses"]!;
        foreach (var status in statuses.Split(','))
        {
            var response = responses[status];
            Assert.True(response is not null, $"{method} {path} does not declare {status}");
            var schema = response!["content"]?["application/problem+json"]?["schema"];
            Assert.True(schema?["$ref"]?.GetValue<string>() == "#/components/schemas/ProblemDetails", $"{method} {path} {status}: {response.ToJsonString()}");
            Assert.False(string.IsNullOrWhiteSpace(response["description"]?.GetValue<string>()));
        }
    }

    [Theory]
    [InlineData("/encode", "post")]
    [InlineData("/decode-step", "post")]
    [InlineData("/models", "get")]
    public async Task BusyRefusalsDeclareRetryAfter(string path, string method)
    {
        var response = Operation(await DocumentAsync(), path, method)["responses"]!["503"]!;
        Assert.NotNull(response["headers"]?["Retry-After"]?["schema"]);
    }

    [Fact]
    public async Task WithoutKeysOrPerAddressLimitsNo401Or429IsDeclared()
    {
        var responses = Operation(await DocumentAsync(), "/encode", "post")["responses"]!.AsObject();
        Assert.False(responses.ContainsKey("401"));
        Assert.False(responses.ContainsKey("429"));
    }

    [Theory]
    [InlineData("/encode", "post", "model,rows,sourceMask,ttlSeconds")]
    [InlineData("/sessions/{id}", "put", "model,rows,sourceMask,ttlSeconds")]
    [InlineData("/sessions/{id}/decode-step", "post", "layer,rows,returnAttention")]
    public async Task RawFloat32BodiesAreOctetStreamWithTheirQueryParameters(string path, string method, string parameters)
    {
        var operation = Operation(await DocumentAsync(), path, method);
        var raw = operation["requestBody"]!["content"]!["application/octet-stream"]!["schema"]!;
        Assert.Equal("binary", raw["format"]!.GetValue<string>());
        var query = operation["parameters"]!.AsArray().Where(p => p!["in"]!.GetValue<string>() == "query")
            .Select(p => p!["name"]!.GetValue<string>()).ToHashSet();
        Assert.Subset(query, parameters.Split(',').ToHashSet());
    }

    [Theory]
    [InlineData("/decode-step")]
    [InlineData("/sessions/{id}/decode-step")]
    [InlineData("/attention")]
    public async Task RawFloat32ResponsesAreOctetStream(string path)
    {
        var raw = Operation(await DocumentAsync(), path, "post")["responses"]!["200"]!["content"]!["application/octet-stream"]!["schema"]!;
        Assert.Equal("binary", raw["format"]!.GetValue<string>());
    }
}

/// <summary>CrossAttention:Swagger:Enabled=false serves neither the UI nor the document.</summary>
public class SwaggerDisabledTests : IClassFixture<SwaggerDisabledTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory() => Settings["CrossAttention:Swagger:Enabled"] = "false";
    }

    private readonly HttpClient _client;

    public SwaggerDisabledTests(Factory factory) => _client = factory.CreateClient();

    [Theory]
    [InlineData("/swagger/v1/swagger.json")]
    [InlineData("/swagger/index.html")]
    public async Task NeitherTheDocumentNorTheUiIsServed(string path) =>
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync(path)).StatusCode);

    [Fact]
    public async Task TheApiStillServes() =>
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/models")).StatusCode);
}

/// <summary>With API keys, the document declares 401 and 429 (with Retry-After) as problem+json on keyed operations.</summary>
public class KeyedOpenApiDocumentTests(KeyedApiFactory factory) : IClassFixture<KeyedApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Theory]
    [InlineData("/encode", "post")]
    [InlineData("/sessions/{id}/decode-step", "post")]
    [InlineData("/models", "get")]
    public async Task KeyedOperationsDeclare401And429AsProblemJson(string path, string method)
    {
        var document = JsonNode.Parse(await _client.GetStringAsync("/swagger/v1/swagger.json"))!;
        var responses = document["paths"]![path]![method]!["responses"]!;
        foreach (var status in new[] { "401", "429" })
            Assert.Equal("#/components/schemas/ProblemDetails",
                responses[status]?["content"]?["application/problem+json"]?["schema"]?["$ref"]?.GetValue<string>());
        Assert.NotNull(responses["429"]!["headers"]?["Retry-After"]);
    }
}
