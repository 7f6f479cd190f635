using System.Collections.Concurrent;
using System.Net;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests;

/// <summary>
/// Sessions created well past the K/V budget while decode steps run on others, under both Cache:WhenFull policies: no
/// error but the documented 404/507, every output bit for bit the one computed alone, the ledger never above the budget, and
/// back to zero live bytes once everything is deleted.
/// </summary>
public class FillAndEvictTests
{
    private const int Rows = 300;
    private const int Sessions = 20;
    private const int Workers = 4;
    private const int StepsPerSession = 3;
    private static readonly long SessionBytes = DemoModel.Create(layers: 2, dModel: 64, heads: 4).EncodedBytes(Rows);

    private static object Source(int session) => new { model = "demo", source = Json.Rows(Rows, 64, 500 + session) };

    private static object Query(int session, int layer) => new { layer, queries = Json.Rows(1, 64, 1000 + 2 * session + layer) };

    /// <summary>Each session's output per layer, each computed alone on a server with room for everything.</summary>
    private static async Task<float[][,]> ReferenceOutputsAsync()
    {
        await using var factory = new ApiFactory();
        var client = factory.CreateClient();
        var outputs = new float[Sessions][,];
        for (int s = 0; s < Sessions; s++)
        {
            var created = await client.PostAsync("/encode", Json.Body(Source(s)));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
            outputs[s] = new float[2, 64];
            for (int layer = 0; layer < 2; layer++)
            {
                var step = await client.PostAsync($"/sessions/{id}/decode-step", Json.Body(Query(s, layer)));
                Assert.Equal(HttpStatusCode.OK, step.StatusCode);
                var row = Json.Matrix((await step.ReadObjectAsync())["output"])[0];
                for (int c = 0; c < 64; c++) outputs[s][layer, c] = row[c];
            }
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/sessions/{id}")).StatusCode);
        }
        return outputs;
    }

    [Theory]
    [InlineData("reject")]
    [InlineData("evict-lru")]
    public async Task BudgetHoldsWhileSessionsAreCreatedWellPastIt(string whenFull)
    {
        var expected = await ReferenceOutputsAsync();
        await using var factory = new ApiFactory();
        long budget = 4 * SessionBytes + SessionBytes / 2; // room for 4 of the 20
        factory.Settings["CrossAttention:Cache:SizeLimitBytes"] = budget.ToString();
        factory.Settings["CrossAttention:Cache:RecycledBytesLimit"] = (2 * SessionBytes).ToString();
        factory.Settings["CrossAttention:Cache:WhenFull"] = whenFull;
        var client = factory.CreateClient();
        var ledger = factory.Services.GetRequiredService<KeyValueLedger>();
        bool evicts = whenFull == "evict-lru";

        var ids = Enumerable.Range(0, Sessions).Select(_ => SessionIds.New()).ToArray();
        var stored = new ConcurrentDictionary<int, bool>();   // created with 201 (and not deleted by the test)
        var statuses = new ConcurrentBag<(string What, HttpStatusCode Status)>();
        long highest = 0;
        void CheckBudget()
        {
            long total = ledger.Snapshot.TotalBytes;
            Assert.True(total <= budget, $"the ledger holds {total} bytes, over the budget of {budget}");
            long seen;
            while (total > (seen = Interlocked.Read(ref highest)) && Interlocked.CompareExchange(ref highest, total, seen) != seen) { }
        }

        async Task StepAsync(int session, int layer)
        {
            bool wasStored = stored.ContainsKey(session);
            var response = await client.PostAsync($"/sessions/{ids[session]}/decode-step", Json.Body(Query(session, layer)));
            CheckBudget();
            statuses.Add(("step", response.StatusCode));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var row = Json.Matrix((await response.ReadObjectAsync())["output"])[0];
                // Bit for bit: neither the cores a step was given nor the steps batched with it change its result
                // (JSON carries the shortest round-trip text, so equal floats mean equal bits).
                for (int c = 0; c < 64; c++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[session][layer, c]) == BitConverter.SingleToInt32Bits(row[c]),
                        $"session {session}, layer {layer}, column {c}: {row[c]:R}, computed alone {expected[session][layer, c]:R}");
                return;
            }
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            // Under reject a stored session is never taken away; only evict-lru (or the test's own delete) ends one.
            if (!evicts) Assert.False(wasStored && stored.ContainsKey(session), $"session {session} vanished under reject");
        }

        int next = -1;
        bool done = false;
        var monitor = Task.Run(() =>
        {
            while (!Volatile.Read(ref done))
            {
                CheckBudget();
                Thread.Yield();
            }
        });
        var workers = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            int session;
            while ((session = Interlocked.Increment(ref next)) < Sessions)
            {
                var created = await client.PutAsync($"/sessions/{ids[session]}", Json.Body(Source(session)));
                CheckBudget();
                statuses.Add(("create", created.StatusCode));
                if (created.StatusCode == HttpStatusCode.Created) stored[session] = true;
                else await ProblemAssert.IsProblemAsync(created, (HttpStatusCode)507);
                for (int step = 0; step < StepsPerSession; step++)
                    await StepAsync(step == 0 ? session : random.Next(session + 1), step % 2);
                // Some sessions are finished and deleted, so that under reject later ones find room again.
                if (session % 3 == 0 && stored.TryRemove(session, out _))
                {
                    var deleted = await client.DeleteAsync($"/sessions/{ids[session]}");
                    Assert.True(deleted.StatusCode == HttpStatusCode.NoContent || (evicts && deleted.StatusCode == HttpStatusCode.NotFound),
                        $"deleting session {session}: {deleted.StatusCode}");
                    CheckBudget();
                }
            }
        })).ToArray();
        try
        {
            await Task.WhenAll(workers);
        }
        finally
        {
            Volatile.Write(ref done, true);
            await monitor;
        }

        int createdCount = statuses.Count(s => s.What == "create" && s.Status == HttpStatusCode.Created);
        if (evicts) Assert.True(createdCount > 8, $"only {createdCount} sessions stored: nothing was evicted to make room");
        else Assert.Contains(statuses, s => s is ("create", (HttpStatusCode)507));
        Assert.True(Interlocked.Read(ref highest) > budget / 2);

        // Whatever is still stored gives the outputs computed alone, on every layer.
        foreach (int session in stored.Keys)
        {
            if ((await client.GetAsync($"/sessions/{ids[session]}")).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(evicts, $"session {session} vanished under reject");
                continue;
            }
            for (int layer = 0; layer < 2; layer++) await StepAsync(session, layer);
        }

        foreach (var id in ids)
        {
            var deleted = await client.DeleteAsync($"/sessions/{id}");
            Assert.Contains(deleted.StatusCode, new[] { HttpStatusCode.NoContent, HttpStatusCode.NotFound });
            CheckBudget();
        }
        var end = ledger.Snapshot;
        Assert.Equal((0L, 0L, 0L, 0), (end.LiveBytes, end.LeasedBytes, end.ReservedBytes, end.LiveHoldings));
        Assert.InRange(end.PooledBytes, 0, 2 * SessionBytes);
    }
}
