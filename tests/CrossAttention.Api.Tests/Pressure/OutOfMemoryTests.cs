using System.Net;
using System.Reflection;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CrossAttention.Api.Tests.Pressure;

/// <summary>An allocation that fails answers 503 and poisons nothing; failures that persist reach the health checks.</summary>
public class OutOfMemoryTests : IClassFixture<OutOfMemoryTests.Factory>
{
    /// <summary>A session store whose next lookups throw OutOfMemoryException when armed: the fault point of these tests.</summary>
    public sealed class FaultyStore(ISessionStore inner) : ISessionStore
    {
        private int _failures;

        public void FailNext(int lookups) => Volatile.Write(ref _failures, lookups);

        public ValueTask<SessionEntry?> GetAsync(SessionKey id, CancellationToken cancellationToken) =>
            Interlocked.Decrement(ref _failures) >= 0 ? throw new OutOfMemoryException() : inner.GetAsync(id, cancellationToken);

        public ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken) =>
            inner.ReserveAsync(key, bytes, cancellationToken);
        public ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken) =>
            inner.AddAsync(session, reservation, cancellationToken);
        public ValueTask<bool> RemoveAsync(SessionKey id, CancellationToken cancellationToken) => inner.RemoveAsync(id, cancellationToken);
        public SessionStoreUsage Usage => inner.Usage;
    }

    public sealed class Factory : ApiFactory
    {
        public FaultyStore? Store { get; private set; }
        public CrossAttention.Api.Tests.Observability.LoggingTests.CapturingLoggerProvider Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<ISessionStore>();
                services.AddSingleton<ISessionStore>(sp => Store = new FaultyStore(sp.GetRequiredService<InProcessSessionStore>()));
            });
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public OutOfMemoryTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    [Fact]
    public async Task OutOfMemoryInARequestIs503WithRetryAfterAndTheNextRequestIsServed()
    {
        var created = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(4, 64, 1) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var step = () => _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2) }));

        _factory.Store!.FailNext(1);
        var failed = await step();
        var problem = await ProblemAssert.IsProblemAsync(failed, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(failed.Headers.RetryAfter);
        Assert.Contains("memory", problem["detail"]!.GetValue<string>());
        // Logged by route, never by path: the path holds the session id.
        var logged = _factory.Logs.Entries.Where(e => e.Message.StartsWith("Out of memory", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(logged);
        Assert.All(logged, e => Assert.Equal("/sessions/{id}/decode-step", e.State["Route"]));
        Assert.DoesNotContain(_factory.Logs.Entries, e => e.Message.Contains(id, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, (await step()).StatusCode);
        // Readiness reports the failure for a while (traffic moves away), then recovers on its own.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
        _factory.Time.Advance(AllocationHealth.RecentFor + TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task OutOfMemoryIsProblemJsonEvenForAClientThatAcceptsOnlyRawFloat32()
    {
        var created = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(4, 64, 1) }));
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        _factory.Store!.FailNext(1);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/sessions/{id}/decode-step?layer=0&rows=1")
        {
            Content = new ByteArrayContent(new byte[64 * sizeof(float)]) { Headers = { ContentType = new("application/octet-stream") } },
        };
        request.Headers.Accept.Add(new("application/octet-stream"));
        var failed = await _client.SendAsync(request);
        await ProblemAssert.IsProblemAsync(failed, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(failed.Headers.RetryAfter);
    }

    [Fact]
    public void EveryStaticTableOfTheRequestPathIsBuiltAtStartUp()
    {
        // A table built lazily by a type initializer that fails once (out of memory) fails that type for the life of
        // the process; start-up builds them all, so this lists every type with static array tables.
        var withTables = typeof(Program).Assembly.GetTypes()
            .Where(t => !t.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)) && !t.Name.StartsWith('<'))
            .Where(t => t.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
                .Any(f => f.IsInitOnly && f.FieldType.IsArray && !f.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute))))
            .Where(t => t != typeof(PressureSetup))
            .ToHashSet();
        Assert.Subset(PressureSetup.StartupTables.ToHashSet(), withTables); // every type with tables is built at start-up
    }
}

/// <summary>The health checks' transitions, on a clock moved by hand.</summary>
public class AllocationHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private static bool Healthy(IHealthCheck check) =>
        check.CheckHealthAsync(new HealthCheckContext()).Result.Status == HealthStatus.Healthy;

    [Fact]
    public void OneFailureFailsReadinessForAWhileAndNeverLiveness()
    {
        var health = new AllocationHealth(_time);
        var (ready, live) = (new AllocationReadinessCheck(health), new AllocationLivenessCheck(health));
        Assert.True(Healthy(ready));
        health.RecordFailure();
        Assert.False(Healthy(ready));
        Assert.True(Healthy(live));
        _time.Advance(AllocationHealth.RecentFor + TimeSpan.FromSeconds(1));
        Assert.True(Healthy(ready));
        Assert.True(Healthy(live));
    }

    [Fact]
    public void FailuresThatKeepComingFailLivenessUntilTheyStop()
    {
        var health = new AllocationHealth(_time);
        var live = new AllocationLivenessCheck(health);
        var every = AllocationHealth.QuietGap - TimeSpan.FromSeconds(1);
        for (var elapsed = TimeSpan.Zero; elapsed < AllocationHealth.SustainedFor; elapsed += every)
        {
            health.RecordFailure();
            Assert.True(Healthy(live), $"liveness failed after {elapsed}, before the sustained period");
            _time.Advance(every);
        }
        health.RecordFailure();
        Assert.False(Healthy(live));
        _time.Advance(AllocationHealth.QuietGap + TimeSpan.FromSeconds(1));
        Assert.True(Healthy(live));
        // A new failure after a quiet gap starts a new streak, not the old one's.
        health.RecordFailure();
        Assert.True(Healthy(live));
    }

    [Fact]
    public void ReadinessFailsAsSoonAsStoppingBegins()
    {
        var lifetime = new Lifetime();
        var check = new StoppingCheck(lifetime);
        Assert.True(Healthy(check));
        lifetime.Stopping.Cancel();
        Assert.False(Healthy(check));
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationTokenSource Stopping { get; } = new();
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => Stopping.Token;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() => Stopping.Cancel();
    }
}
