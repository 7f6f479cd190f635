using System.Net;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>Every kind of bad input gets a 4xx problem+json, and none of it touches an existing session.</summary>
public class ValidationTests : IClassFixture<ValidationTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory()
        {
            Settings["CrossAttention:Limits:MaxRequestBytes"] = "65536";
            Settings["CrossAttention:Limits:MaxSourceLength"] = "50";
            Settings["CrossAttention:Limits:MaxQueries"] = "8";
        }
    }

    private readonly HttpClient _client;

    public ValidationTests(Factory factory) => _client = factory.CreateClient();

    private Task<HttpResponseMessage> Encode(object body) => _client.PostAsync("/encode", Json.Body(body));

    private async Task<string> SessionAsync()
    {
        var response = await Encode(new { model = "demo", source = Json.Rows(4, 64, 1) });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadObjectAsync())["sessionId"]!.GetValue<string>();
    }

    [Fact]
    public async Task SourceRowOfTheWrongLengthIs400NamingTheWidth() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Json.Rows(3, 63, 1) }), "source", "64");

    [Fact]
    public async Task RaggedSourceIs400NamingTheRow() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = new[] { new float[64], new float[10] } }),
            "source", "row 1");

    [Fact]
    public async Task EmptySourceIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Array.Empty<float[]>() }), "source", "required");

    [Fact]
    public async Task MissingSourceIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo" }), "source", "required");

    [Fact]
    public async Task MissingModelIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { source = Json.Rows(1, 64, 1) }), "model", "required");

    [Theory]
    [InlineData("1e39")]
    [InlineData("-3.5e38")]
    [InlineData("1e400")]
    public async Task ValueThatIsNotAFiniteFloat32Is400(string value)
    {
        string row = string.Join(",", Enumerable.Repeat("0.5", 63).Append(value));
        var response = await _client.PostAsync("/encode", Json.Raw($$"""{"model":"demo","source":[[{{row}}]]}"""));
        await ProblemAssert.IsValidationErrorAsync(response, "source", "finite float32");
    }

    [Fact]
    public async Task TooManySourceRowsIs400NamingTheLimit() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Json.Rows(51, 64, 1) }), "source", "MaxSourceLength");

    [Fact]
    public async Task MaskOfTheWrongLengthIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Json.Rows(3, 64, 1), sourceMask = new[] { 1, 1 } }),
            "sourceMask", "3 rows");

    [Fact]
    public async Task MaskWithValuesOtherThanZeroOrOneIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Json.Rows(3, 64, 1), sourceMask = new[] { 1, 2, 0 } }),
            "sourceMask", "1 (keep) or 0");

    [Fact]
    public async Task MaskThatPadsEveryPositionIs400() =>
        await ProblemAssert.IsValidationErrorAsync(await Encode(new { model = "demo", source = Json.Rows(3, 64, 1), sourceMask = new[] { 0, 0, 0 } }),
            "sourceMask", "every position is padding");

    [Theory]
    [InlineData("{\"model\":\"demo\",\"source\":[[1,2]")]
    [InlineData("not json")]
    [InlineData("{\"model\":\"demo\",\"source\":[[\"a\"]]}")]
    [InlineData("{\"model\":\"demo\",\"source\":5}")]
    [InlineData("{\"model\":\"demo\",\"sourceMask\":[1.5]}")]
    [InlineData("null")]
    [InlineData("")]
    public async Task MalformedJsonIs400WithADetail(string body)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.PostAsync("/encode", Json.Raw(body)), HttpStatusCode.BadRequest);
        Assert.False(string.IsNullOrWhiteSpace(problem["detail"]?.GetValue<string>()));
    }

    [Fact]
    public async Task UnknownModelIs404() =>
        await ProblemAssert.IsProblemAsync(await Encode(new { model = "nope", source = Json.Rows(1, 64, 1) }), HttpStatusCode.NotFound);

    /// <summary>A valid encode body of 50 × 64 long-written numbers: about 90 KB, over the 64 KiB limit.</summary>
    private static string LargeBody()
    {
        string row = "[" + string.Join(",", Enumerable.Repeat("0.1234567890123456789012345", 64)) + "]";
        return "{\"model\":\"demo\",\"source\":[" + string.Join(",", Enumerable.Repeat(row, 50)) + "]}";
    }

    [Fact]
    public async Task BodyOverTheLimitIs413()
    {
        var response = await _client.PostAsync("/encode", Json.Raw(LargeBody()));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task BodyOverTheLimitWithoutContentLengthIs413()
    {
        var json = LargeBody();
        var content = new StreamContent(new NonSeekableStream(System.Text.Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new("application/json");
        var response = await _client.PostAsync("/encode", content);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Theory]
    [InlineData("/encode", "text/plain")]
    [InlineData("/decode-step", "application/octet-stream")]
    [InlineData("/attention", "application/xml")]
    public async Task WrongContentTypeIs415(string path, string contentType)
    {
        var content = new StringContent("{}", System.Text.Encoding.UTF8, contentType);
        await ProblemAssert.IsProblemAsync(await _client.PostAsync(path, content), HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task LayerOutOfRangeOrMissingIs400()
    {
        string id = await SessionAsync();
        var response = await _client.PostAsync("/decode-step", Json.Body(new { sessionId = id, layer = 2, queries = Json.Rows(1, 64, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "layer", "0 to 1");
        response = await _client.PostAsync("/decode-step", Json.Body(new { sessionId = id, layer = -1, queries = Json.Rows(1, 64, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "layer", "out of range");
        response = await _client.PostAsync("/decode-step", Json.Body(new { sessionId = id, queries = Json.Rows(1, 64, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "layer", "required");
    }

    [Fact]
    public async Task QueriesOfTheWrongLengthEmptyOrTooManyAre400()
    {
        string id = await SessionAsync();
        await ProblemAssert.IsValidationErrorAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(1, 65, 1) })), "queries", "64");
        await ProblemAssert.IsValidationErrorAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Array.Empty<float[]>() })), "queries", "required");
        await ProblemAssert.IsValidationErrorAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(9, 64, 1) })), "queries", "MaxQueries");
        await ProblemAssert.IsValidationErrorAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 1) })), "sessionId", "required");
    }

    [Fact]
    public async Task StatelessAttentionValidatesEveryField()
    {
        var response = await _client.PostAsync("/attention", Json.Body(new
        {
            model = "demo", layer = 5, source = Json.Rows(2, 3, 1), queries = Json.Rows(1, 2, 1),
        }));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey("layer"));
        Assert.True(errors.ContainsKey("source"));
        Assert.True(errors.ContainsKey("queries"));
    }

    [Fact]
    public async Task BadQueryStringValueIs400Problem()
    {
        var content = new ByteArrayContent(new byte[64 * 4]);
        content.Headers.ContentType = new("application/octet-stream");
        var response = await _client.PostAsync("/encode?model=demo&rows=abc", content);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task BadRequestsLeaveAnExistingSessionUnchanged()
    {
        string id = await SessionAsync();
        var queries = Json.Rows(2, 64, 9);
        var before = await (await _client.PostAsync("/decode-step", Json.Body(new { sessionId = id, layer = 1, queries, returnAttention = true })))
            .Content.ReadAsStringAsync();

        await _client.PostAsync("/decode-step", Json.Raw($$"""{"sessionId":"{{id}}","layer":1,"queries":[[1e39]]}"""));
        await _client.PostAsync("/decode-step", Json.Raw($$"""{"sessionId":"{{id}}","layer":9,"queries":[[1]]}"""));
        await _client.PostAsync($"/sessions/{id}/decode-step", Json.Raw("{\"layer\":"));
        await _client.PostAsync($"/sessions/{id}/decode-step?layer=0&rows=1", new ByteArrayContent(new byte[3]) { Headers = { ContentType = new("application/octet-stream") } });

        var after = await (await _client.PostAsync("/decode-step", Json.Body(new { sessionId = id, layer = 1, queries, returnAttention = true })))
            .Content.ReadAsStringAsync();
        Assert.Equal(before, after);
    }
}

/// <summary>A body of unknown length (chunked upload), so the size limit must be enforced while reading.</summary>
internal sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
{
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
}
