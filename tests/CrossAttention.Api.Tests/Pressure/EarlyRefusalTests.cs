using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Pressure;

/// <summary>
/// Refusals decided before (or partway through) reading a body reach a real HttpClient that is still uploading a
/// large streamed body: it gets the status and the problem+json, not a reset connection. Kestrel on a loopback port,
/// because only a real socket shows the reset.
/// </summary>
public class EarlyRefusalTests
{
    /// <summary>The app on Kestrel (loopback, free port), with settings per test.</summary>
    public sealed class Factory : ApiFactory
    {
        public Factory() => UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));

        public async Task<HttpClient> StartAsync()
        {
            StartServer();
            await Services.GetRequiredService<ModelCatalog>().WhenReady;
            // A fresh handler: no connection is shared between the tests' requests unless they share this client.
            return new HttpClient { BaseAddress = ClientOptions.BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        }
    }

    /// <summary>
    /// A JSON encode body of <paramref name="length"/> bytes streamed in 64 KiB writes (never buffered whole): a source
    /// whose first row is <paramref name="firstRow"/>, then padding.
    /// </summary>
    private sealed class StreamedEncode(long length, string firstRow = "[0.5]", bool declareLength = true) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var head = Encoding.ASCII.GetBytes("{\"model\":\"demo\",\"source\":[" + firstRow);
            var chunk = new byte[64 << 10];
            chunk.AsSpan().Fill((byte)' ');
            await stream.WriteAsync(head);
            for (long sent = head.Length; sent < length; sent += chunk.Length)
                await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, length - sent)));
        }

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return declareLength; // false: sent chunked, its size unknown until it ends
        }
    }

    private static HttpRequestMessage Encode(HttpContent body)
    {
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpRequestMessage(HttpMethod.Post, "/encode") { Content = body };
    }

    [Fact]
    public async Task A413ForABodyOverTheLimitReachesTheUploadingClient()
    {
        using var factory = new Factory();
        using var client = await factory.StartAsync();
        // 40 MiB against the default 32 MiB limit (and over Kestrel's own 30 MB default): refused before reading.
        var response = await client.SendAsync(Encode(new StreamedEncode(40L << 20)));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("Limits:MaxRequestBytes", problem["detail"]!.GetValue<string>());
        // The connection was drained, not cut: the same client goes on.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/models")).StatusCode);
    }

    [Fact]
    public async Task A413ForAChunkedBodyOverTheLimitReachesTheUploadingClient()
    {
        using var factory = new Factory();
        using var client = await factory.StartAsync();
        // No Content-Length: the limit is found while reading, after which Kestrel's own limit can no longer change.
        var response = await client.SendAsync(Encode(new StreamedEncode(40L << 20, declareLength: false)));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("Limits:MaxRequestBytes", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/models")).StatusCode);
    }

    [Fact]
    public async Task A503FromTheAdmissionLimitReachesTheUploadingClient()
    {
        using var factory = new Factory();
        factory.Settings["CrossAttention:Limits:MaxConcurrentExpensiveRequests"] = "1";
        factory.Settings["CrossAttention:Limits:ExpensiveRequestQueueLength"] = "1";
        factory.Settings["CrossAttention:Limits:MaxAdmittedExpensiveRequests"] = "1";
        using var client = await factory.StartAsync();
        using var other = new HttpClient { BaseAddress = client.BaseAddress, Timeout = client.Timeout };
        var permits = factory.Services.GetRequiredService<ExpensiveComputePermits>();
        var computing = await permits.AcquireAsync(CancellationToken.None);
        Task<HttpResponseMessage> admitted;
        try
        {
            // The only admission slot: an encode whose body has arrived, waiting for the permit the test holds.
            admitted = other.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(4, 64, 1) }));
            await Eventually.TrueAsync(() => permits.Waiting == 1, "the first encode waits for its permit");

            // A 32 MiB upload (the largest allowed) is refused before a byte of it is read.
            var response = await client.SendAsync(Encode(new StreamedEncode(32L << 20)));
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("Limits:MaxAdmittedExpensiveRequests", problem["detail"]!.GetValue<string>());
        }
        finally
        {
            computing.Dispose();
        }
        Assert.Equal(HttpStatusCode.Created, (await admitted).StatusCode);
    }

    [Fact]
    public async Task A503FromTheInFlightBudgetPartwayThroughTheBodyReachesTheUploadingClient()
    {
        using var factory = new Factory();
        factory.Settings["CrossAttention:Limits:MaxRequestBytes"] = (8 << 20).ToString();
        factory.Settings["CrossAttention:Limits:MaxInFlightBytes"] = (32 << 20).ToString();
        using var client = await factory.StartAsync();
        var budget = factory.Services.GetRequiredService<InFlightBudget>();
        Assert.True(budget.TryReserve(28 << 20)); // held by other requests: 4 MiB left
        try
        {
            // The body's buffer doubles as it arrives; the 8 MiB one it needs partway through is refused.
            var response = await client.SendAsync(Encode(new StreamedEncode(8L << 20)));
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("Limits:MaxInFlightBytes", problem["detail"]!.GetValue<string>());
        }
        finally
        {
            budget.Release(28 << 20);
        }
        Assert.Equal(0, budget.ReservedBytes);
    }

    [Fact]
    public async Task A401AndA429ReachTheUploadingClient()
    {
        using var factory = new Factory();
        KeyedApiFactory.AddKey(factory.Settings, 0, KeyedApiFactory.TeamA, KeyedApiFactory.Keys[KeyedApiFactory.TeamA]);
        // One encode's worth of tokens, refilled at 1 a second: the second encode finds the bucket short.
        factory.Settings["CrossAttention:RateLimit:TokensPerSecond"] = "1";
        factory.Settings["CrossAttention:RateLimit:BurstTokens"] = "10";
        factory.Settings["CrossAttention:RateLimit:EncodeCost"] = "10";
        using var client = await factory.StartAsync();

        var unauthenticated = await client.SendAsync(Encode(new StreamedEncode(32L << 20)));
        await ProblemAssert.IsProblemAsync(unauthenticated, HttpStatusCode.Unauthorized);

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", KeyedApiFactory.Keys[KeyedApiFactory.TeamA]);
        Assert.Equal(HttpStatusCode.Created,
            (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(4, 64, 1) }))).StatusCode);
        var limited = await client.SendAsync(Encode(new StreamedEncode(32L << 20)));
        await ProblemAssert.IsProblemAsync(limited, HttpStatusCode.TooManyRequests);
        Assert.NotNull(limited.Headers.RetryAfter);
    }
}
