using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>Raw little-endian float32 bodies and responses give the same numbers as JSON.</summary>
public class BinaryTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static ByteArrayContent Raw(float[][] rows)
    {
        var content = new ByteArrayContent(MemoryMarshal.AsBytes(rows.SelectMany(r => r).ToArray().AsSpan()).ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    [Fact]
    public async Task BinaryEncodeAndDecodeMatchJson()
    {
        var source = Json.Rows(7, 64, 11);
        var queries = Json.Rows(2, 64, 12);

        var jsonSession = await (await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, sourceMask = new[] { 1, 1, 1, 1, 1, 1, 0 } })))
            .ReadObjectAsync();
        var rawEncode = await _client.PostAsync("/encode?model=demo&rows=7&sourceMask=1,1,1,1,1,1,0&ttlSeconds=100", Raw(source));
        Assert.Equal(HttpStatusCode.Created, rawEncode.StatusCode);
        Assert.Equal("application/json", rawEncode.Content.Headers.ContentType?.MediaType);
        var rawSession = await rawEncode.ReadObjectAsync();
        Assert.Equal(jsonSession["kvBytes"]!.GetValue<long>(), rawSession["kvBytes"]!.GetValue<long>());

        string jsonId = jsonSession["sessionId"]!.GetValue<string>(), rawId = rawSession["sessionId"]!.GetValue<string>();
        var expected = await (await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = jsonId, layer = 1, queries, returnAttention = true }))).ReadObjectAsync();

        var request = new HttpRequestMessage(HttpMethod.Post, $"/sessions/{rawId}/decode-step?layer=1&rows=2&returnAttention=true")
        {
            Content = Raw(queries),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/octet-stream"));
        var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("2,64", response.Headers.GetValues("X-Output-Shape").Single());
        Assert.Equal("4,2,7", response.Headers.GetValues("X-Attention-Shape").Single());
        var values = MemoryMarshal.Cast<byte, float>(await response.Content.ReadAsByteArrayAsync()).ToArray();
        Assert.Equal(2 * 64 + 4 * 2 * 7, values.Length);
        Assert.Equal(Json.Matrix(expected["output"]).SelectMany(r => r), values.Take(2 * 64));
        Assert.Equal(Json.Tensor3(expected["attention"]).SelectMany(h => h.SelectMany(r => r)), values.Skip(2 * 64));
    }

    [Fact]
    public async Task JsonRequestWithBinaryAcceptGetsRawOutput()
    {
        var session = await (await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) }))).ReadObjectAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/decode-step")
        {
            Content = Json.Body(new { sessionId = session["sessionId"]!.GetValue<string>(), layer = 0, queries = Json.Rows(1, 64, 2) }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/octet-stream"));
        var response = await _client.SendAsync(request);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(64 * sizeof(float), (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task BinaryBodyOfWrongSizeIs400()
    {
        var response = await _client.PostAsync("/encode?model=demo&rows=3", Raw(Json.Rows(2, 64, 1)));
        await ProblemAssert.IsValidationErrorAsync(response, "source", "bytes");
    }

    [Fact]
    public async Task BinaryEncodeNeedsModelAndRows()
    {
        var response = await _client.PostAsync("/encode", Raw(Json.Rows(2, 64, 1)));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem["errors"]!.AsObject().ContainsKey("model"));
        Assert.True(problem["errors"]!.AsObject().ContainsKey("rows"));
    }

    [Fact]
    public async Task BinaryNonFiniteValueIs400()
    {
        var rows = Json.Rows(1, 64, 1);
        rows[0][5] = float.NaN;
        var response = await _client.PostAsync("/encode?model=demo&rows=1", Raw(rows));
        await ProblemAssert.IsValidationErrorAsync(response, "source", "finite");
    }
}
