using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace CrossAttention.Api.Tests.Observability;

public class LoggingTests
{
    private const string SessionCategory = "CrossAttention.Api.Observability.SessionTelemetry";

    public sealed record Entry(string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> State);

    /// <summary>Keeps every log entry of the host; a test can await the first entry that matches.</summary>
    public sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _entries = new();
        private readonly List<(Func<Entry, bool> Match, TaskCompletionSource<Entry> Found)> _waiters = [];

        public Entry[] Entries => _entries.ToArray();

        public Task<Entry> WhenLoggedAsync(Func<Entry, bool> match)
        {
            var found = new TaskCompletionSource<Entry>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                if (_entries.FirstOrDefault(match) is { } seen) return Task.FromResult(seen);
                _waiters.Add((match, found));
            }
            return found.Task;
        }

        internal void Add(Entry entry)
        {
            lock (_waiters)
            {
                _entries.Enqueue(entry);
                foreach (var waiter in _waiters.Where(w => w.Match(entry)).ToArray())
                {
                    _waiters.Remove(waiter);
                    waiter.Found.SetResult(entry);
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose() { }

        private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? pairs.ToDictionary(p => p.Key, p => p.Value)
                    : new Dictionary<string, object?>();
                provider.Add(new Entry(category, logLevel, eventId.Id, formatter(state, exception), values));
            }
        }
    }

    private sealed class LoggedApiFactory : ApiFactory
    {
        public CapturingLoggerProvider Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        }
    }

    private static Func<Entry, bool> Session(int eventId, string? reason = null) => e =>
        e.Category == SessionCategory && e.EventId == eventId && (reason is null || Equals(e.State["Reason"], reason));

    [Fact]
    public async Task SessionsCreatedAndEndedAreLoggedWithSizesButNeverIdsOrTensors()
    {
        await using var factory = new LoggedApiFactory();
        factory.Settings["Logging:LogLevel:CrossAttention"] = "Debug";
        var client = factory.CreateClient();
        var source = Json.Rows(7, 64, 1);
        var queries = Json.Rows(2, 64, 2);

        var created = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source }))).ReadObjectAsync();
        string id = created["sessionId"]!.GetValue<string>();
        long bytes = created["kvBytes"]!.GetValue<long>();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries }))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/sessions/{id}")).StatusCode);

        var line = await factory.Logs.WhenLoggedAsync(Session(100));
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Equal("demo", line.State["Model"]);
        Assert.Equal(7, line.State["SourceLength"]);
        Assert.Equal("float32", line.State["DType"]);
        Assert.Equal(bytes, line.State["Bytes"]);
        Assert.Equal("-", line.State["Owner"]);

        var step = await factory.Logs.WhenLoggedAsync(Session(103));
        Assert.Equal(LogLevel.Debug, step.Level);
        Assert.Equal(2, step.State["Rows"]);

        // The session ends on a cache thread after the delete has answered.
        var ended = await factory.Logs.WhenLoggedAsync(Session(101)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(LogLevel.Information, ended.Level);
        Assert.Equal("deleted", ended.State["Reason"]);
        Assert.Equal(line.State["Session"], ended.State["Session"]);
        Assert.Equal(bytes, ended.State["Bytes"]);

        var tensorValues = source.Concat(queries).SelectMany(r => r)
            .Select(v => v.ToString("R", CultureInfo.InvariantCulture)).Where(v => v.Length > 6).ToHashSet();
        foreach (var entry in factory.Logs.Entries)
        {
            Assert.DoesNotContain(id, entry.Message);
            Assert.DoesNotContain(entry.State.Values, v => v is string text && text.Contains(id));
            Assert.DoesNotContain(tensorValues, v => entry.Message.Contains(v));
        }
    }

    [Fact]
    public async Task ExpiryEndsASessionWithItsReason()
    {
        await using var factory = new LoggedApiFactory();
        var client = factory.CreateClient();
        var created = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1), ttlSeconds = 5 })))
            .ReadObjectAsync();
        factory.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/sessions/{created["sessionId"]}")).StatusCode);

        var ended = await factory.Logs.WhenLoggedAsync(Session(101)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("expired", ended.State["Reason"]);
    }

    [Fact]
    public async Task DecodeStepsAreNotLoggedAboveDebug()
    {
        await using var factory = new LoggedApiFactory(); // appsettings.json: Information
        var client = factory.CreateClient();
        string id = (await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) })))
            .ReadObjectAsync())["sessionId"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries = Json.Rows(1, 64, 2) }))).StatusCode);

        Assert.Contains(factory.Logs.Entries, e => Session(100)(e));
        Assert.DoesNotContain(factory.Logs.Entries, e => Session(103)(e));
    }

    [Fact]
    public async Task RefusalsAreWarnings()
    {
        await using var factory = new LoggedApiFactory();
        factory.Settings["CrossAttention:Cache:SizeLimitBytes"] = "100000";
        var client = factory.CreateClient();
        const string id = "logging-test-session-01";
        Assert.Equal(HttpStatusCode.Created, (await client.PutAsync($"/sessions/{id}",
            Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) }))).StatusCode);
        await ProblemAssert.IsProblemAsync(await client.PutAsync($"/sessions/{id}",
            Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) })), HttpStatusCode.Conflict);
        await ProblemAssert.IsProblemAsync(await client.PostAsync("/encode",
            Json.Body(new { model = "demo", source = Json.Rows(400, 64, 1) })), HttpStatusCode.InsufficientStorage);

        var taken = await factory.Logs.WhenLoggedAsync(Session(102, "id_taken"));
        Assert.Equal(LogLevel.Warning, taken.Level);
        Assert.Equal(409, taken.State["Status"]);
        var tooLarge = await factory.Logs.WhenLoggedAsync(Session(102, "larger_than_cache"));
        Assert.Equal(LogLevel.Warning, tooLarge.Level);
        Assert.Equal(507, tooLarge.State["Status"]);
        Assert.DoesNotContain(factory.Logs.Entries, e => e.Message.Contains(id));
    }
}
