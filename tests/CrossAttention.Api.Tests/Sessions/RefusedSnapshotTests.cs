using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Observability;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Observability;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Sessions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Tests.Sessions;

/// <summary>
/// A store that loads sessions from snapshots (as a shared tier does) and finds one it must refuse: the client gets a
/// problem+json it can act on, never a 500, and the log gets the refusal under the session's fingerprint, never its id.
/// </summary>
public class RefusedSnapshotTests : IClassFixture<RefusedSnapshotTests.Factory>
{
    private const string HandlerCategory = "CrossAttention.Api.Infrastructure.ProblemExceptionHandler";

    /// <summary>
    /// A stand-in for a shared tier: a session moved to it is kept only as its snapshot (bytes a test may damage) and
    /// loaded back into this replica's in-process store on the next lookup, as a Redis tier's GetAsync does on a miss.
    /// </summary>
    public sealed class SnapshotTierStore(InProcessSessionStore local, KeyValueLedger ledger, ModelCatalog catalog,
        TimeProvider time, IOptions<CrossAttentionOptions> options) : ISessionStore
    {
        private readonly ConcurrentDictionary<SessionKey, byte[]> _tier = new();

        /// <summary>Writes the session out to the tier and ends it here; returns the stored bytes, which the caller may change.</summary>
        public async Task<byte[]> MoveToTierAsync(SessionKey key)
        {
            var session = await local.GetAsync(key, CancellationToken.None) ?? throw new InvalidOperationException("No such session here.");
            var blob = new ArrayBufferWriter<byte>();
            session.WriteSnapshot(blob);
            Assert.True(await local.RemoveAsync(key, CancellationToken.None));
            return _tier[key] = blob.WrittenSpan.ToArray();
        }

        public async ValueTask<SessionEntry?> GetAsync(SessionKey key, CancellationToken cancellationToken)
        {
            if (await local.GetAsync(key, cancellationToken) is { } here) return here;
            if (!_tier.TryGetValue(key, out var blob)) return null;
            try
            {
                var snapshot = new ReadOnlySequence<byte>(blob);
                var header = SessionSnapshotHeader.Read(snapshot, ledger.BudgetBytes);
                if (!catalog.TryGet(header.ModelName, out var model)) return null;
                var (now, maxTtl) = (time.GetUtcNow(), TimeSpan.FromSeconds(options.Value.Cache.MaxTtlSeconds));
                header.EnsureLoadable(key, model, now, maxTtl);
                using var reservation = await local.ReserveAsync(key, header.EncodedBytes, cancellationToken);
                if (!reservation.IsGranted) throw new InvalidOperationException($"No room to load the session: {reservation.Refusal}.");
                var session = SessionSnapshots.LoadSnapshot(key, header, snapshot, model, reservation, ledger.Pool, now, maxTtl);
                if (await local.AddAsync(session, reservation, cancellationToken) == SessionAddResult.Stored) return session;
                session.Encoded.Dispose();
                return await local.GetAsync(key, cancellationToken);
            }
            catch (SessionSnapshotException refused)
            {
                throw refused.ForSession(key.Id); // the header is read here, before the Api's own calls name the session
            }
        }

        public ValueTask<SessionReservation> ReserveAsync(SessionKey key, long bytes, CancellationToken cancellationToken) =>
            local.ReserveAsync(key, bytes, cancellationToken);

        public ValueTask<SessionAddResult> AddAsync(SessionEntry session, SessionReservation reservation, CancellationToken cancellationToken) =>
            local.AddAsync(session, reservation, cancellationToken);

        public async ValueTask<bool> RemoveAsync(SessionKey key, CancellationToken cancellationToken) =>
            _tier.TryRemove(key, out _) | await local.RemoveAsync(key, cancellationToken);

        public SessionStoreUsage Usage => local.Usage;
    }

    public sealed class Factory : ApiFactory
    {
        public SnapshotTierStore? Tier { get; private set; }
        public LoggingTests.CapturingLoggerProvider Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<ISessionStore>();
                services.AddSingleton<ISessionStore>(sp => Tier = ActivatorUtilities.CreateInstance<SnapshotTierStore>(sp));
            });
        }
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public RefusedSnapshotTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    [Fact]
    public async Task SessionMovedToTheTierIsLoadedBackAndServed()
    {
        var (id, blob) = await EncodeIntoTierAsync();
        Assert.True(blob.Length > 0);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await DecodeStepAsync(id)).StatusCode);
    }

    [Fact]
    public async Task DamagedStoredSessionIsA404ProblemAndAnErrorLoggedWithoutItsId()
    {
        var (id, blob) = await EncodeIntoTierAsync();
        blob[^100] ^= 0x10; // a bit of the last layer's values: the checksum no longer matches

        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        Assert.Equal("Session could not be loaded", problem["title"]!.GetValue<string>());
        Assert.Contains($"'{id}' could not be loaded", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("Checksum", problem.ToJsonString()); // the reason is the server's, in its log
        await ProblemAssert.IsProblemAsync(await DecodeStepAsync(id), HttpStatusCode.NotFound);

        var logged = _factory.Logs.Entries.Where(e => e.Category == HandlerCategory && Equals(e.State["Session"], SessionTelemetry.Fingerprint(id))).ToArray();
        Assert.Equal(2, logged.Length);
        Assert.All(logged, e => Assert.Equal(LogLevel.Error, e.Level));
        Assert.All(logged, e => Assert.Equal(SessionSnapshotProblem.ChecksumMismatch, e.State["Problem"]));
        Assert.Equal(["/sessions/{id}", "/sessions/{id}/decode-step"], logged.Select(e => e.State["Route"]));
        AssertNoLogNames(id);
    }

    [Fact]
    public async Task StoredSessionOfANewerFormatVersionIsA503WithRetryAfter()
    {
        var (id, blob) = await EncodeIntoTierAsync();
        BinaryPrimitives.WriteUInt16LittleEndian(blob.AsSpan(8), 2); // what a newer replica would write

        var response = await _client.GetAsync($"/sessions/{id}");
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("newer version", problem["detail"]!.GetValue<string>());
        var logged = Assert.Single(_factory.Logs.Entries, e => e.Category == HandlerCategory && Equals(e.State["Session"], SessionTelemetry.Fingerprint(id)));
        Assert.Equal(LogLevel.Warning, logged.Level);
        AssertNoLogNames(id);
    }

    [Fact]
    public async Task StoredSessionPastItsLifetimeIsNotFoundAndNoError()
    {
        var (id, _) = await EncodeIntoTierAsync();
        var options = _factory.Services.GetRequiredService<IOptions<CrossAttentionOptions>>().Value;
        _factory.Time.Advance(TimeSpan.FromSeconds(options.Cache.MaxTtlSeconds));

        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}"), HttpStatusCode.NotFound);
        Assert.Equal($"No session '{id}': it expired.", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain(_factory.Logs.Entries, e => e.Category == HandlerCategory && e.Level >= LogLevel.Warning &&
            Equals(e.State["Session"], SessionTelemetry.Fingerprint(id)));
    }

    private async Task<(string Id, byte[] Blob)> EncodeIntoTierAsync()
    {
        var created = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(5, 64, 1) }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        return (id, await _factory.Tier!.MoveToTierAsync(new SessionKey("", id)));
    }

    private Task<HttpResponseMessage> DecodeStepAsync(string id) =>
        _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2) }));

    private void AssertNoLogNames(string id)
    {
        foreach (var entry in _factory.Logs.Entries)
        {
            Assert.DoesNotContain(id, entry.Message);
            Assert.DoesNotContain(entry.State.Values, v => v is string text && text.Contains(id));
        }
    }
}
