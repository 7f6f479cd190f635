using System.Net;
using System.Threading.RateLimiting;
using CrossAttention.Api.Auth;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;

namespace CrossAttention.Api.Tests.Access;

/// <summary>
/// Buckets far smaller than one encode's refill time: 1 token per second, so a bucket emptied by an encode (cost 10)
/// cannot hold another for 9 s, far longer than these tests take between two requests.
/// </summary>
public sealed class SmallBucketApiFactory : KeyedApiFactory
{
    public const string Tiny = "tiny";
    public const string TinyKey = "tk_tiny_Rb8wP3mQ6zL1vX9c";

    public SmallBucketApiFactory()
    {
        Settings["CrossAttention:RateLimit:TokensPerSecond"] = "1";
        Settings["CrossAttention:RateLimit:BurstTokens"] = "10";
        Settings["CrossAttention:RateLimit:EncodeCost"] = "10";
        AddKey(Settings, 2, Tiny, TinyKey);
        Settings["CrossAttention:Auth:ApiKeys:2:BurstTokens"] = "12"; // its own bucket size
    }
}

public sealed class RateLimitTests(SmallBucketApiFactory factory) : IClassFixture<SmallBucketApiFactory>
{
    [Fact]
    public async Task AnEncodeEmptiesASmallBucketAndTheNextRequestGets429WithRetryAfter()
    {
        var a = factory.ClientFor(KeyedApiFactory.TeamA);
        var created = await a.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var refused = await a.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) }));
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 10);
        Assert.Equal((int)retryAfter.Value.TotalSeconds, problem["retryAfterSeconds"]!.GetValue<int>());

        // Another key has its own bucket.
        var b = factory.ClientFor(KeyedApiFactory.TeamB);
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/models")).StatusCode);
        // Health needs no key and is never limited.
        for (int i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task StepsCostOneTokenAndAKeysOwnBurstApplies()
    {
        var tiny = factory.CreateClient();
        tiny.DefaultRequestHeaders.Add("X-Api-Key", SmallBucketApiFactory.TinyKey);
        var created = await tiny.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode); // 12 - 10 = 2 tokens left (plus what refilled meanwhile)
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();

        int served = 0;
        HttpResponseMessage response;
        while ((response = await tiny.PostAsync($"/sessions/{id}/decode-step",
                   Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2) }))).StatusCode == HttpStatusCode.OK)
        {
            served++;
            Assert.True(served < 12, "the bucket never ran dry");
        }
        Assert.True(served >= 2, $"only {served} steps were served with 2 tokens left");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task EveryRequestWithoutAValidKeyIs401NotAThrottle()
    {
        for (int i = 0; i < 30; i++)
            await ProblemAssert.IsProblemAsync(await factory.CreateClient().GetAsync("/models"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public void WithoutKeysClientAddressesCanHaveBucketsOfTheirOwn()
    {
        var options = new RateLimiterOptions();
        CallerRateLimiter.Configure(options, new RateLimitOptions { TokensPerSecond = 1, BurstTokens = 3, PerClientAddress = true }, new AuthOptions());
        using var limiter = options.GlobalLimiter!;
        var endpoint = new Endpoint(_ => Task.CompletedTask, EndpointMetadataCollection.Empty, "step");
        HttpContext From(string address)
        {
            var context = new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(address) } };
            context.SetEndpoint(endpoint);
            return context;
        }

        for (int i = 0; i < 3; i++) Assert.True(limiter.AttemptAcquire(From("10.0.0.1")).IsAcquired);
        Assert.False(limiter.AttemptAcquire(From("10.0.0.1")).IsAcquired);
        Assert.True(limiter.AttemptAcquire(From("10.0.0.2")).IsAcquired);

        var unlimited = new RateLimiterOptions();
        CallerRateLimiter.Configure(unlimited, new RateLimitOptions { TokensPerSecond = 1, BurstTokens = 3 }, new AuthOptions());
        using var none = unlimited.GlobalLimiter!;
        for (int i = 0; i < 100; i++) Assert.True(none.AttemptAcquire(From("10.0.0.1")).IsAcquired);
    }
}
