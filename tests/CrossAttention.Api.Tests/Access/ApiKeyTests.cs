using System.Net;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Access;

public sealed class ApiKeyTests(KeyedApiFactory factory) : IClassFixture<KeyedApiFactory>
{
    private static readonly object Source = new { model = "demo", source = Json.Rows(3, 64, 3) };
    private static readonly object Queries = new { layer = 0, queries = Json.Rows(1, 64, 4) };

    /// <summary>Every endpoint that needs a key, as (method, path, JSON body or null).</summary>
    public static TheoryData<string, string, string?> ProtectedEndpoints => new()
    {
        { "GET", "/models", null },
        { "GET", "/models/demo", null },
        { "POST", "/encode", "{\"model\":\"demo\",\"source\":[[0.5]]}" },
        { "PUT", "/sessions/Qm7vX2pL9sK4wT1zR8cY3n", "{\"model\":\"demo\",\"source\":[[0.5]]}" },
        { "GET", "/sessions/Qm7vX2pL9sK4wT1zR8cY3n", null },
        { "DELETE", "/sessions/Qm7vX2pL9sK4wT1zR8cY3n", null },
        { "POST", "/sessions/Qm7vX2pL9sK4wT1zR8cY3n/decode-step", "{\"layer\":0,\"queries\":[[0.5]]}" },
        { "POST", "/decode-step", "{\"sessionId\":\"Qm7vX2pL9sK4wT1zR8cY3n\",\"layer\":0,\"queries\":[[0.5]]}" },
        { "POST", "/attention", "{\"model\":\"demo\",\"layer\":0,\"source\":[[0.5]],\"queries\":[[0.5]]}" },
        { "GET", "/models/tutorial/example", null },
        { "GET", "/sessions/Qm7vX2pL9sK4wT1zR8cY3n/alignment?layer=0", null },
    };

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task WithoutAKeyEveryEndpointAnswers401Problem(string method, string path, string? body)
    {
        var response = await factory.CreateClient().SendAsync(Request(method, path, body));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("API key required", problem["title"]!.GetValue<string>());
        Assert.Equal("Bearer realm=\"CrossAttention.Api\"", Assert.Single(response.Headers.WwwAuthenticate).ToString());
    }

    [Theory]
    [MemberData(nameof(ProtectedEndpoints))]
    public async Task AWrongKeyAnswers401SayingSo(string method, string path, string? body)
    {
        foreach (var (header, value) in new[] { ("Authorization", "Bearer not-a-key"), ("X-Api-Key", "not-a-key"),
            ("Authorization", "Basic dGVhbS1hOnNlY3JldA=="), ("X-Api-Key", KeyedApiFactory.Keys[KeyedApiFactory.TeamA] + "x"),
            ("Authorization", "Bearer " + KeyedApiFactory.Sha256(KeyedApiFactory.Keys[KeyedApiFactory.TeamA])) })
        {
            var request = Request(method, path, body);
            request.Headers.TryAddWithoutValidation(header, value);
            var response = await factory.CreateClient().SendAsync(request);
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("API key not accepted", problem["title"]!.GetValue<string>());
            Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
            Assert.DoesNotContain(value, await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/swagger/v1/swagger.json")]
    [InlineData("/swagger/index.html")]
    [InlineData("/index.html")]
    [InlineData("/app.js")]
    public async Task HealthSwaggerAndTheExplorerPageNeedNoKey(string path)
    {
        await factory.Services.GetRequiredService<CrossAttention.Api.Catalog.ModelCatalog>().WhenReady;
        var response = await factory.CreateClient().GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task BothHeaderFormsAreAccepted()
    {
        var bearer = await factory.ClientFor(KeyedApiFactory.TeamA).GetAsync("/models");
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);

        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", KeyedApiFactory.Keys[KeyedApiFactory.TeamB]);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/models")).StatusCode);
    }

    [Fact]
    public async Task AnotherKeysSessionIsNotFoundOnEverySessionEndpoint()
    {
        var owner = factory.ClientFor(KeyedApiFactory.TeamA);
        var other = factory.ClientFor(KeyedApiFactory.TeamB);
        var created = await owner.PostAsync("/encode", Json.Body(Source));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var before = await (await owner.PostAsync($"/sessions/{id}/decode-step", Json.Body(Queries))).Content.ReadAsByteArrayAsync();

        await ProblemAssert.IsProblemAsync(await other.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.DeleteAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.PostAsync($"/sessions/{id}/decode-step", Json.Body(Queries)), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(1, 64, 4) })), HttpStatusCode.NotFound);
        var raw = new ByteArrayContent(new byte[64 * sizeof(float)]);
        raw.Headers.ContentType = new("application/octet-stream");
        await ProblemAssert.IsProblemAsync(await other.PostAsync($"/sessions/{id}/decode-step?layer=0&rows=1", raw), HttpStatusCode.NotFound);

        // The owner's session is untouched by all of that, and answers the same step with the same bytes.
        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/sessions/{id}")).StatusCode);
        var after = await (await owner.PostAsync($"/sessions/{id}/decode-step", Json.Body(Queries))).Content.ReadAsByteArrayAsync();
        Assert.Equal(before, after);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/sessions/{id}")).StatusCode);
    }

    [Fact]
    public async Task SessionIdsAreNamespacedByKey()
    {
        string id = CrossAttention.Api.Sessions.SessionIds.New();
        var a = factory.ClientFor(KeyedApiFactory.TeamA);
        var b = factory.ClientFor(KeyedApiFactory.TeamB);
        Assert.Equal(HttpStatusCode.Created, (await a.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) }))).StatusCode);
        // The same id under another key is that key's own session: created, never a 409 that would reveal the first.
        Assert.Equal(HttpStatusCode.Created, (await b.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(5, 64, 2) }))).StatusCode);
        Assert.Equal(3, (await (await a.GetAsync($"/sessions/{id}")).ReadObjectAsync())["sourceLength"]!.GetValue<int>());
        Assert.Equal(5, (await (await b.GetAsync($"/sessions/{id}")).ReadObjectAsync())["sourceLength"]!.GetValue<int>());

        // Within one key the id is still taken.
        await ProblemAssert.IsProblemAsync(await a.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 3) })),
            HttpStatusCode.Conflict);

        // Deleting one key's session leaves the other's.
        Assert.Equal(HttpStatusCode.NoContent, (await b.DeleteAsync($"/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/sessions/{id}")).StatusCode);
        await ProblemAssert.IsProblemAsync(await b.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
    }

    private static HttpRequestMessage Request(string method, string path, string? body) =>
        new(new HttpMethod(method), path) { Content = body is null ? null : Json.Raw(body) };
}
