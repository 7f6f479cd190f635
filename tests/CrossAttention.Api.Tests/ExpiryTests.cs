using System.Net;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>Sliding TTL and the absolute maximum, on a clock the test moves.</summary>
public class ExpiryTests : IClassFixture<ExpiryTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory()
        {
            Settings["CrossAttention:Cache:DefaultTtlSeconds"] = "60";
            Settings["CrossAttention:Cache:MaxTtlSeconds"] = "150";
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public ExpiryTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    private async Task<string> EncodeAsync(int? ttlSeconds = null)
    {
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1), ttlSeconds }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadObjectAsync())["sessionId"]!.GetValue<string>();
    }

    [Fact]
    public async Task SessionExpiresAfterItsTtlWithoutUse()
    {
        string id = await EncodeAsync(ttlSeconds: 30);
        _factory.Time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/sessions/{id}")).StatusCode);
        _factory.Time.Advance(TimeSpan.FromSeconds(31));
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = id, layer = 0, queries = Json.Rows(1, 64, 2) })), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task UseSlidesTheExpiryButNotPastTheMaximum()
    {
        string id = await EncodeAsync(); // default 60 s, at most 150 s after creation
        for (int i = 0; i < 3; i++)
        {
            _factory.Time.Advance(TimeSpan.FromSeconds(45));
            var step = await _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 3) }));
            Assert.Equal(HttpStatusCode.OK, step.StatusCode); // 45, 90, 135 s: each within 60 s of the last use
        }
        var session = await (await _client.GetAsync($"/sessions/{id}")).ReadObjectAsync();
        var created = session["createdAt"]!.GetValue<DateTimeOffset>();
        Assert.Equal(created.AddSeconds(150), session["expiresAt"]!.GetValue<DateTimeOffset>());
        _factory.Time.Advance(TimeSpan.FromSeconds(16)); // 151 s: past the maximum lifetime
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TtlAboveTheMaximumIsRejected()
    {
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1), ttlSeconds = 151 }));
        await ProblemAssert.IsValidationErrorAsync(response, "ttlSeconds", "150");
    }
}
