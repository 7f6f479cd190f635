using System.Net;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>A full cache refuses new sessions with 507 and Retry-After, and never drops the ones it holds.</summary>
public class CapacityTests : IClassFixture<CapacityTests.Factory>
{
    // Demo model: 2 layers × (K + V) × 64 float32 = 1 KiB per source position (plus alignment the cache may add).
    public sealed class Factory : ApiFactory
    {
        public Factory()
        {
            Settings["CrossAttention:Cache:SizeLimitBytes"] = "40000";
            Settings["CrossAttention:Cache:DefaultTtlSeconds"] = "60";
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public CapacityTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    private Task<HttpResponseMessage> Encode(int rows) =>
        _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(rows, 64, rows) }));

    [Fact]
    public async Task FullCacheAnswers507AndKeepsExistingSessions()
    {
        _factory.Time.Advance(TimeSpan.FromSeconds(120)); // whatever other tests of this class left has expired
        var first = await Encode(16);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        string firstId = (await first.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var second = await Encode(16);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);

        var refused = await Encode(16);
        var problem = await ProblemAssert.IsProblemAsync(refused, (HttpStatusCode)507);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("Cache:SizeLimitBytes", problem["detail"]!.GetValue<string>());

        // Both earlier sessions are still served; the refused one was never pretended into existence.
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/sessions/{firstId}")).StatusCode);
        var step = await _client.PostAsync($"/sessions/{firstId}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 1) }));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);

        // Deleting one frees room for another.
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/sessions/{firstId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Encode(16)).StatusCode);
    }

    [Fact]
    public async Task SessionStoredAfterExpiredOnesAreClearedIsFullyUsable()
    {
        // Fill the cache, let those sessions expire unseen, then encode: the store must first be refused, clear the
        // expired entries and store the new session; that session must then serve decode steps.
        _factory.Time.Advance(TimeSpan.FromSeconds(120)); // whatever other tests of this class left has expired
        Assert.Equal(HttpStatusCode.Created, (await Encode(16)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Encode(16)).StatusCode);
        _factory.Time.Advance(TimeSpan.FromSeconds(120));
        var fresh = await Encode(16);
        Assert.Equal(HttpStatusCode.Created, fresh.StatusCode);
        string id = (await fresh.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var step = await _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 1, queries = Json.Rows(2, 64, 3) }));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/sessions/{id}")).StatusCode);
    }

    [Fact]
    public async Task SourceLargerThanTheWholeCacheIs507SayingSo()
    {
        var refused = await Encode(45);
        var problem = await ProblemAssert.IsProblemAsync(refused, (HttpStatusCode)507);
        Assert.Contains("more than the whole cache", problem["detail"]!.GetValue<string>());
        Assert.Null(refused.Headers.RetryAfter); // waiting cannot help: it never fits
    }
}
