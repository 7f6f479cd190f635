using System.Net;
using System.Net.Http.Json;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Tests;

public class SessionsEndpointsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private async Task<string> EncodeAsync(float[][] source, int[]? mask = null, int? ttlSeconds = null)
    {
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, sourceMask = mask, ttlSeconds }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var session = await response.ReadObjectAsync();
        return session["sessionId"]!.GetValue<string>();
    }

    [Fact]
    public async Task EncodeCreatesASessionWithLocationAndSizes()
    {
        var source = Json.Rows(5, 64, seed: 1);
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, ttlSeconds = 120 }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var session = await response.ReadObjectAsync();
        string id = session["sessionId"]!.GetValue<string>();
        Assert.Equal($"/sessions/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal(22, id.Length); // 128 bits, base64url without padding
        Assert.Matches("^[A-Za-z0-9_-]+$", id);
        Assert.Equal("demo", session["model"]!.GetValue<string>());
        Assert.Equal(2, session["layers"]!.GetValue<int>());
        Assert.Equal(5, session["sourceLength"]!.GetValue<int>());
        // K and V, 2 layers, 5 positions × 64 float32 each: at least that, never less.
        Assert.True(session["kvBytes"]!.GetValue<long>() >= 2L * 2 * 5 * 64 * sizeof(float));
        var created = session["createdAt"]!.GetValue<DateTimeOffset>();
        Assert.Equal(factory.Time.GetUtcNow(), created);
        Assert.Equal(created.AddSeconds(120), session["expiresAt"]!.GetValue<DateTimeOffset>());

        var fetched = await (await _client.GetAsync($"/sessions/{id}")).ReadObjectAsync();
        Assert.Equal(id, fetched["sessionId"]!.GetValue<string>());
        Assert.Equal(session["kvBytes"]!.GetValue<long>(), fetched["kvBytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task DecodeStepMatchesTheEngineAndBothRouteFormsAgree()
    {
        var source = Json.Rows(6, 64, seed: 2);
        int[] mask = [1, 1, 1, 1, 0, 0];
        string id = await EncodeAsync(source, mask);
        var queries = Json.Rows(3, 64, seed: 3);

        var body = await (await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 1, queries, returnAttention = true }))).ReadObjectAsync();
        var path = await (await _client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 1, queries, returnAttention = true }))).ReadObjectAsync();

        var output = Json.Matrix(body["output"]);
        var attention = Json.Tensor3(body["attention"]);
        Assert.Equal(3, output.Length);
        Assert.All(output, row => Assert.Equal(64, row.Length));
        Assert.Equal(4, attention.Length);                       // heads
        Assert.All(attention, h => Assert.Equal(3, h.Length));   // n
        Assert.All(attention, h => Assert.All(h, p => Assert.Equal(6, p.Length))); // m, padding included
        foreach (var row in attention.SelectMany(h => h))
        {
            Assert.Equal(0f, row[4]);
            Assert.Equal(0f, row[5]);
            Assert.Equal(1.0, row.Sum(), 5);
        }
        Assert.Equal(output, Json.Matrix(path["output"]));
        Assert.Equal(attention, Json.Tensor3(path["attention"]));

        // The same computation straight through the engine.
        var model = DemoModel.Create();
        var encoded = model.Encode(source.SelectMany(r => r).ToArray(), 6, mask.Select(v => (byte)v).ToArray(), ComputeOptions.Default);
        var expected = new float[3 * 64];
        var expectedAttention = new float[4 * 3 * 6];
        model.Layers[1].Decode(encoded.Layers[1], queries.SelectMany(r => r).ToArray(), 3, expected, expectedAttention, ComputeOptions.Default);
        Assert.Equal(expected, output.SelectMany(r => r).ToArray(), new ToleranceComparer(1e-5f));
        Assert.Equal(expectedAttention, attention.SelectMany(h => h.SelectMany(r => r)).ToArray(), new ToleranceComparer(1e-6f));
    }

    [Fact]
    public async Task AttentionIsOmittedUnlessAsked()
    {
        string id = await EncodeAsync(Json.Rows(3, 64, seed: 4));
        var result = await (await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(1, 64, seed: 5) }))).ReadObjectAsync();
        Assert.NotNull(result["output"]);
        Assert.False(result.ContainsKey("attention"));
    }

    [Fact]
    public async Task DeletedSessionIsGoneEverywhere()
    {
        string id = await EncodeAsync(Json.Rows(2, 64, seed: 6));
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/sessions/{id}")).StatusCode);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.DeleteAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(1, 64, seed: 7) })), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries = Json.Rows(1, 64, seed: 7) })), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PutCreatesASessionUnderTheClientsIdOnce()
    {
        string id = "client-chosen_id-7Gq2xZ9kR";
        var created = await _client.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 8) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/sessions/{id}", created.Headers.Location!.OriginalString);
        Assert.Equal(id, (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>());
        var step = await _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 9) }));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);

        var again = await _client.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(5, 64, 10) }));
        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict);
        var kept = await (await _client.GetAsync($"/sessions/{id}")).ReadObjectAsync();
        Assert.Equal(3, kept["sourceLength"]!.GetValue<int>()); // the first session is untouched
    }

    [Theory]
    [InlineData("short")]
    [InlineData("has.a.dot.in.it.0123456")]
    public async Task PutRejectsMalformedIds(string id)
    {
        var response = await _client.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(1, 64, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "id", "16 to 128");
    }

    [Fact]
    public async Task PathFormRefusesABodySessionIdNamingAnotherSession()
    {
        string inPath = await EncodeAsync(Json.Rows(2, 64, seed: 11));
        string other = await EncodeAsync(Json.Rows(2, 64, seed: 12));
        var queries = Json.Rows(1, 64, seed: 13);
        var differing = await _client.PostAsync($"/sessions/{inPath}/decode-step", Json.Body(new { sessionId = other, layer = 0, queries }));
        await ProblemAssert.IsValidationErrorAsync(differing, "sessionId", inPath);
        var same = await _client.PostAsync($"/sessions/{inPath}/decode-step", Json.Body(new { sessionId = inPath, layer = 0, queries }));
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
    }

    [Fact]
    public async Task UnknownSessionIs404()
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/sessions/AAAAAAAAAAAAAAAAAAAAAA"), HttpStatusCode.NotFound);
    }
}

public sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(float obj) => 0;
}
