using System.Net;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

public class ConcurrencyTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ConcurrentStepsOnOneAndManySessionsGiveTheSequentialResults()
    {
        var client = factory.CreateClient();
        var ids = new List<string>();
        for (int s = 0; s < 4; s++)
        {
            var session = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(9 + s, 64, s) }))).ReadObjectAsync();
            ids.Add(session["sessionId"]!.GetValue<string>());
        }
        var queries = Enumerable.Range(0, 8).Select(i => Json.Rows(1 + i % 3, 64, 100 + i)).ToArray();
        async Task<string> Step(string id, int q, int layer) =>
            await (await client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer, queries = queries[q], returnAttention = true })))
                .Content.ReadAsStringAsync();

        var expected = new Dictionary<(int, int), string>();
        for (int s = 0; s < ids.Count; s++)
            for (int q = 0; q < queries.Length; q++)
                expected[(s, q)] = await Step(ids[s], q, q % 2);

        var tasks = new List<Task<(int, int, string)>>();
        for (int round = 0; round < 3; round++)
            for (int s = 0; s < ids.Count; s++)
                for (int q = 0; q < queries.Length; q++)
                {
                    int ss = s, qq = q;
                    tasks.Add(Task.Run(async () => (ss, qq, await Step(ids[ss], qq, qq % 2))));
                }
        foreach (var (s, q, body) in await Task.WhenAll(tasks)) Assert.Equal(expected[(s, q)], body);
    }
}
