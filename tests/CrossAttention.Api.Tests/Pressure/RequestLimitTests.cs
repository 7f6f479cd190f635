using System.Net;
using System.Text;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace CrossAttention.Api.Tests.Pressure;

/// <summary>
/// Every byte a request holds is budgeted: bodies reserve as they arrive, a full budget or a full queue is refused at
/// once with 503 + Retry-After, slow bodies are cut, big responses are refused before compute.
/// </summary>
public class RequestLimitTests
{
    /// <summary>The app with a clock whose timers move only when told (the body timeout).</summary>
    public sealed class Factory : ApiFactory
    {

        public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<TimeProvider>();
                services.AddSingleton<TimeProvider>(Clock);
            });
        }

        /// <summary>Bytes the app's requests hold right now.</summary>
        public long ReservedBytes => Services.GetRequiredService<InFlightBudget>().ReservedBytes;
    }

    private static Factory Create(params (string Key, string Value)[] settings)
    {
        var factory = new Factory();
        foreach (var (key, value) in settings) factory.Settings["CrossAttention:" + key] = value;
        return factory;
    }

    private static StalledBody StalledEncode(int sentBytes)
    {
        var start = Encoding.ASCII.GetBytes("{\"model\":\"demo\",\"source\":[");
        var sent = new byte[sentBytes];
        start.CopyTo(sent, 0);
        sent.AsSpan(start.Length).Fill((byte)' ');
        return new StalledBody(sent);
    }

    [Fact]
    public async Task ABodyReservesAsItArrivesNeverItsDeclaredLengthAhead()
    {
        using var factory = Create(("Limits:MaxRequestBytes", "33554432"), ("Limits:MaxInFlightBytes", "134217728"));
        var client = factory.CreateClient();
        var body = StalledEncode(sentBytes: 10_000);
        var pending = body.SendAsync(factory.Server, "POST", "/encode", declaredLength: 32 << 20);
        try
        {
            await Eventually.TrueAsync(() => factory.ReservedBytes > 0, "the server reads the body");
            Assert.InRange(factory.ReservedBytes, 1, 64 * 1024);
        }
        finally
        {
            body.Abort();
            await pending;
        }
        await Eventually.TrueAsync(() => factory.ReservedBytes == 0, "the cut request releases what it held");
    }

    [Fact]
    public async Task AFullInFlightBudgetIs503WithRetryAfterAndFreesWhenTheHoldersEnd()
    {
        using var factory = Create(("Limits:MaxRequestBytes", "1048576"), ("Limits:MaxInFlightBytes", "4194304"));
        var client = factory.CreateClient();
        // Three bodies 600 KB into 1 MiB each: their buffers have doubled to 1 MiB, 3 of the 4 MiB budget.
        var holders = new List<(StalledBody Body, Task<HttpContext> Pending)>();
        try
        {
            for (int i = 1; i <= 3; i++)
            {
                var body = StalledEncode(sentBytes: 600_000);
                holders.Add((body, body.SendAsync(factory.Server, "POST", "/encode", declaredLength: 1 << 20)));
                await Eventually.TrueAsync(() => factory.ReservedBytes == i << 20, $"{i} held bodies hold {i} MiB");
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/models")).StatusCode); // takes no body: still served
            // ~800 KB of JSON whose 64000 floats need a 1 MiB matrix besides: more than the 1 MiB the budget has left.
            var busy = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(1000, 64, 1) }));
            var problem = await ProblemAssert.IsProblemAsync(busy, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(busy.Headers.RetryAfter);
            Assert.Contains("Limits:MaxInFlightBytes", problem["detail"]!.GetValue<string>());
            Assert.Equal(3L << 20, factory.ReservedBytes); // the refused request gave back what it had
        }
        finally
        {
            foreach (var (body, pending) in holders)
            {
                body.Abort();
                await pending;
            }
        }
        Assert.Equal(0, factory.ReservedBytes);
        var served = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(1000, 64, 1) }));
        Assert.Equal(HttpStatusCode.Created, served.StatusCode);
    }

    [Fact]
    public async Task ABodyThatDoesNotArriveInTimeIs408AndReleasesWhatItHeld()
    {
        using var factory = Create(("Limits:RequestBodyTimeoutSeconds", "30"));
        var client = factory.CreateClient();
        var body = StalledEncode(sentBytes: 300);
        var pending = body.SendAsync(factory.Server, "POST", "/encode", declaredLength: 1 << 20);
        try
        {
            await Eventually.TrueAsync(() => factory.ReservedBytes > 0, "the server reads the body");
            factory.Clock.Advance(TimeSpan.FromSeconds(29));
            Assert.False(pending.IsCompleted);
            factory.Clock.Advance(TimeSpan.FromSeconds(2));
            var response = (await pending).Response;
            Assert.Equal(StatusCodes.Status408RequestTimeout, response.StatusCode);
            Assert.Equal("application/problem+json", response.ContentType);
            Assert.Contains("Limits:RequestBodyTimeoutSeconds", await new StreamReader(response.Body).ReadToEndAsync());
        }
        finally
        {
            body.Abort();
        }
        await Eventually.TrueAsync(() => factory.ReservedBytes == 0, "the cut request releases what it held");
    }

    [Fact]
    public async Task ExpensiveRequestsPastTheAdmissionLimitAre503BeforeTheirBodiesAreRead()
    {
        using var factory = Create(("Limits:MaxConcurrentExpensiveRequests", "1"), ("Limits:ExpensiveRequestQueueLength", "0"),
            ("Limits:MaxAdmittedExpensiveRequests", "1"));
        var client = factory.CreateClient();
        var created = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) }));
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();

        var body = StalledEncode(sentBytes: 300);
        var pending = body.SendAsync(factory.Server, "POST", "/encode", declaredLength: 1 << 20);
        try
        {
            await Eventually.TrueAsync(() => factory.ReservedBytes > 0, "the first encode holds the only admission slot");
            long held = factory.ReservedBytes;
            foreach (var refused in new[]
            {
                await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) })),
                await client.PutAsync("/sessions/abcdefghijklmnopqrstuv", Json.Body(new { model = "demo", source = Json.Rows(2, 64, 1) })),
                await client.PostAsync("/attention", Json.Body(new { model = "demo", layer = 0, source = Json.Rows(2, 64, 1), queries = Json.Rows(1, 64, 2) })),
            })
            {
                await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
                Assert.NotNull(refused.Headers.RetryAfter);
            }
            Assert.Equal(held, factory.ReservedBytes); // refused before reading: nothing reserved for them
            // Decode steps are not behind that limit.
            var step = await client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2) }));
            Assert.Equal(HttpStatusCode.OK, step.StatusCode);
        }
        finally
        {
            body.Abort();
            await pending;
        }
    }

    [Fact]
    public async Task TricklingUploadsHoldNoComputePermitSoAnHonestEncodeIsServed()
    {
        // One compute permit and no queue: before, each trickling body held a permit until its timeout.
        using var factory = Create(("Limits:MaxConcurrentExpensiveRequests", "1"), ("Limits:ExpensiveRequestQueueLength", "0"),
            ("Limits:MaxAdmittedExpensiveRequests", "8"));
        var client = factory.CreateClient();
        var tricklers = new List<(StalledBody Body, Task<HttpContext> Pending)>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var body = StalledEncode(sentBytes: 300);
                tricklers.Add((body, body.SendAsync(factory.Server, "POST", "/encode", declaredLength: 1 << 20)));
            }
            // Each reads into its first 64 KiB buffer.
            await Eventually.TrueAsync(() => factory.ReservedBytes == 4 * (64 << 10), "the four trickling bodies are being read");
            foreach (var (_, pending) in tricklers) Assert.False(pending.IsCompleted);

            var encode = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(16, 64, 1) }));
            Assert.Equal(HttpStatusCode.Created, encode.StatusCode);
            var put = await client.PutAsync("/sessions/Qx7vK2mZp9LwT4rB8nYc3d", Json.Body(new { model = "demo", source = Json.Rows(16, 64, 1) }));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            foreach (var (_, pending) in tricklers) Assert.False(pending.IsCompleted); // still uploading, still admitted
        }
        finally
        {
            foreach (var (body, pending) in tricklers)
            {
                body.Abort();
                await pending;
            }
        }
        Assert.Equal(0, factory.ReservedBytes);
    }

    [Fact]
    public async Task AnEncodeWhoseBodyHasArrivedWaitsForAPermitOr503WhenTheQueueIsFull()
    {
        using var factory = Create(("Limits:MaxConcurrentExpensiveRequests", "1"), ("Limits:ExpensiveRequestQueueLength", "1"));
        var client = factory.CreateClient();
        var permits = factory.Services.GetRequiredService<ExpensiveComputePermits>();
        var computing = await permits.AcquireAsync(CancellationToken.None); // stands for an encode computing
        Task<HttpResponseMessage> waiting;
        try
        {
            waiting = client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(16, 64, 1) }));
            await Eventually.TrueAsync(() => permits.Waiting == 1, "the first encode waits for the permit");
            var refused = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(16, 64, 2) }));
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("Limits:MaxConcurrentExpensiveRequests", problem["detail"]!.GetValue<string>());
            Assert.False(waiting.IsCompleted);
        }
        finally
        {
            computing.Dispose();
        }
        Assert.Equal(HttpStatusCode.Created, (await waiting).StatusCode);
        Assert.Equal(0, factory.ReservedBytes);
    }

    [Fact]
    public async Task AJsonResponseOverMaxResponseBytesIsRefusedPointingToTheRawForm()
    {
        using var factory = Create(("Limits:MaxResponseBytes", "65536"));
        var client = factory.CreateClient();
        var created = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(512, 64, 1) }));
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();

        // [4 heads, 8, 512] = 16384 values: ~256 KiB of JSON, 64 KiB raw (+ 2 KiB of output).
        var json = await client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries = Json.Rows(8, 64, 2), returnAttention = true }));
        await ProblemAssert.IsValidationErrorAsync(json, "returnAttention", "application/octet-stream");

        var small = await client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2), returnAttention = true }));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(0, factory.ReservedBytes);
    }
}

/// <summary>Limits checked while the JSON is parsed: the body is refused at the token that decides it.</summary>
public class ParseLimitTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task MoreQueryRowsThanMaxQueriesAreRefusedWhileParsing()
    {
        var response = await _client.PostAsync("/decode-step",
            Json.Body(new { sessionId = "none-such-session-id", layer = 0, queries = Json.Rows(257, 64, 1) }));
        // The session is never looked up: the parser refused the 257th row first.
        await ProblemAssert.IsValidationErrorAsync(response, "queries", "Limits:MaxQueries");
    }

    [Fact]
    public async Task ARowWiderThanAnyModelTakesIsRefusedWhileParsing()
    {
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(1, 65, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "source", "more than 64 values");
    }

    [Fact]
    public async Task AMaskLongerThanMaxSourceLengthIsRefusedWhileParsing()
    {
        var response = await _client.PostAsync("/encode",
            Json.Body(new { model = "demo", source = Json.Rows(1, 64, 1), sourceMask = Enumerable.Repeat(1, 4097).ToArray() }));
        await ProblemAssert.IsValidationErrorAsync(response, "sourceMask", "Limits:MaxSourceLength");
    }

    [Fact]
    public async Task DeepNestingIsRefused()
    {
        string nested = new string('[', 40) + new string(']', 40);
        var response = await _client.PostAsync("/encode", Json.Raw($"{{\"model\":\"demo\",\"extra\":{nested},\"source\":[[1]]}}"));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }
}
