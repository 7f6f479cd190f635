using System.Diagnostics.Metrics;
using System.Net;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests;

/// <summary>
/// The K/V budget over HTTP: an encode reserves its bytes before it computes, Cache:WhenFull decides what a full
/// budget does, and expired sessions give their memory back on an idle server.
/// </summary>
public class KeyValueBudgetTests
{
    private const int Rows = 300; // 300 × 64 float32 = 76.8 KB per K or V buffer: large enough to be pooled
    private static readonly long SessionBytes = DemoModel.Create(layers: 2, dModel: 64, heads: 4).EncodedBytes(Rows);

    private static ApiFactory Factory(long budget, string whenFull = "reject", long pooled = 0)
    {
        var factory = new ApiFactory();
        factory.Settings["CrossAttention:Cache:SizeLimitBytes"] = budget.ToString();
        factory.Settings["CrossAttention:Cache:WhenFull"] = whenFull;
        factory.Settings["CrossAttention:Cache:RecycledBytesLimit"] = pooled.ToString();
        factory.Settings["CrossAttention:Cache:DefaultTtlSeconds"] = "60";
        return factory;
    }

    private static Task<HttpResponseMessage> Encode(HttpClient client, int seed) =>
        client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(Rows, 64, seed) }));

    private static async Task<string> Created(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadObjectAsync())["sessionId"]!.GetValue<string>();
    }

    private static Task<HttpResponseMessage> Step(HttpClient client, string id, int seed = 1) =>
        client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 1, queries = Json.Rows(1, 64, seed) }));

    /// <summary>Counts the encodes this host computed (each records its compute time, inside the compute gate, on its meter).</summary>
    private sealed class EncodesComputed : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public EncodesComputed(ApiFactory factory)
        {
            var meters = factory.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "crossattention.encode.duration" && ReferenceEquals(instrument.Meter.Scope, meters))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _count));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task EncodeIsReservedExactlyAndARefusedOneSpendsNoCompute()
    {
        await using var factory = Factory(budget: 2 * SessionBytes + SessionBytes / 2);
        var client = factory.CreateClient();
        var ledger = factory.Services.GetRequiredService<KeyValueLedger>();
        using var computed = new EncodesComputed(factory);

        var first = await Encode(client, 1);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstSession = await first.ReadObjectAsync();
        Assert.Equal(SessionBytes, firstSession["kvBytes"]!.GetValue<long>()); // what was reserved is what it holds
        await Created(await Encode(client, 2));
        long entries = computed.Count;
        Assert.Equal(2, entries);

        var refused = await Encode(client, 3);
        await ProblemAssert.IsProblemAsync(refused, (HttpStatusCode)507);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(entries, computed.Count); // refused before it reached the compute gate
        Assert.Equal(new KeyValueLedgerSnapshot(0, 2 * SessionBytes, 0, 0, 2, ledger.BudgetBytes), ledger.Snapshot);

        // A PUT of an id this owner already holds is a 409 decided before compute too.
        string id = SessionIds.New();
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/sessions/{firstSession["sessionId"]}")).StatusCode);
        var put = await client.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(Rows, 64, 4) }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        entries = computed.Count;
        var taken = await client.PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(Rows, 64, 5) }));
        await ProblemAssert.IsProblemAsync(taken, HttpStatusCode.Conflict);
        Assert.Equal(entries, computed.Count);
        Assert.Equal(0, ledger.Snapshot.ReservedBytes);
    }

    [Fact]
    public async Task EvictLeastRecentlyUsedMakesRoomFromTheSessionUnusedLongest()
    {
        await using var factory = Factory(budget: 2 * SessionBytes + SessionBytes / 2, whenFull: "evict-lru");
        var client = factory.CreateClient();
        var ledger = factory.Services.GetRequiredService<KeyValueLedger>();
        string older = await Created(await Encode(client, 1));
        factory.Time.Advance(TimeSpan.FromSeconds(1));
        string used = await Created(await Encode(client, 2));
        factory.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await Step(client, older)).StatusCode); // now the other one is the least recent
        factory.Time.Advance(TimeSpan.FromSeconds(1));

        string newest = await Created(await Encode(client, 3));
        await ProblemAssert.IsProblemAsync(await client.GetAsync($"/sessions/{used}"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await Step(client, older)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Step(client, newest)).StatusCode);
        Assert.Equal(2 * SessionBytes, ledger.Snapshot.LiveBytes);

        // No policy stores a session larger than the whole budget; it says so.
        var huge = await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3 * Rows, 64, 4) }));
        var problem = await ProblemAssert.IsProblemAsync(huge, (HttpStatusCode)507);
        Assert.Contains("more than the whole cache", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await Step(client, older)).StatusCode); // and evicts nothing for it
    }

    [Fact]
    public async Task ExpiredSessionsGiveTheirMemoryBackWithoutAnyRequest()
    {
        await using var factory = Factory(budget: 4 * SessionBytes, pooled: 4 * SessionBytes);
        var client = factory.CreateClient();
        var ledger = factory.Services.GetRequiredService<KeyValueLedger>();
        await Created(await Encode(client, 1));
        await Created(await Encode(client, 2));
        Assert.Equal(2 * SessionBytes, ledger.Snapshot.LiveBytes);
        Assert.Equal(0, ledger.Snapshot.PooledBytes);

        // Nobody calls the server: the sweep on the clock ends them and their K and V buffers go to the pool.
        factory.Time.Advance(TimeSpan.FromSeconds(61) + InProcessSessionStore.SweepPeriod);
        var idle = ledger.Snapshot;
        Assert.Equal((0L, 0L, 0), (idle.LiveBytes, idle.LeasedBytes, idle.LiveHoldings));
        Assert.InRange(idle.PooledBytes, 1, 2 * SessionBytes);
        Assert.Equal(0, factory.Services.GetRequiredService<InProcessSessionStore>().Usage.Count);
    }

    [Fact]
    public async Task StatelessAttentionCountsItsTransientKeysAndValues()
    {
        await using var factory = Factory(budget: SessionBytes + SessionBytes / 4);
        var client = factory.CreateClient();
        var ledger = factory.Services.GetRequiredService<KeyValueLedger>();
        object Attention() => new { model = "demo", layer = 0, source = Json.Rows(Rows, 64, 7), queries = Json.Rows(1, 64, 8) };
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/attention", Json.Body(Attention()))).StatusCode);
        Assert.Equal(0, ledger.Snapshot.ReservedBytes); // given back when the request is done

        string id = await Created(await Encode(client, 1)); // the session takes all but a quarter of a session's room
        var refused = await client.PostAsync("/attention", Json.Body(Attention())); // one layer: half a session
        await ProblemAssert.IsProblemAsync(refused, (HttpStatusCode)507);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, (await Step(client, id)).StatusCode); // the session was not evicted for it

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/sessions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/attention", Json.Body(Attention()))).StatusCode);
    }
}
