using System.Net;
using System.Runtime.InteropServices;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests.Observability;

/// <summary>
/// Runs alone: an OpenTelemetry meter provider listens to meters by name, so in a test process it also hears the
/// same-named meters of every other test's host. Alone, the scrape holds only this test's traffic.
/// </summary>
[CollectionDefinition(nameof(MetricsExpositionTests), DisableParallelization = true)]
[Collection(nameof(MetricsExpositionTests))]
public class MetricsExpositionTests
{
    private const string PutId = "metrics-test-session-0001";

    /// <summary>
    /// Real traffic (encodes, a refused PUT, JSON and raw decode steps, a 404, a delete), then one scrape: it passes
    /// promtool, and the service's own series say exactly what happened.
    /// </summary>
    [Fact]
    public async Task ScrapeAfterRealTrafficPassesPromtoolAndCountsWhatHappened()
    {
        await using var factory = new ApiFactory();
        var client = factory.CreateClient();

        var encoded = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(7, 64, 1) })))
            .ReadObjectAsync();
        string deletedId = encoded["sessionId"]!.GetValue<string>();
        var put = await client.PutAsync($"/sessions/{PutId}", Json.Body(new { model = "demo", source = Json.Rows(20, 64, 2) }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        long keptBytes = (await put.ReadObjectAsync())["kvBytes"]!.GetValue<long>();
        var narrow = await (await client.PostAsync("/encode",
            Json.Body(new { model = "demo", source = Json.Rows(9, 64, 4), kvDtype = "bfloat16" }))).ReadObjectAsync();
        long narrowBytes = narrow["kvBytes"]!.GetValue<long>();
        var endedNarrow = await (await client.PostAsync("/encode",
            Json.Body(new { model = "demo", source = Json.Rows(5, 64, 5), kvDtype = "float16" }))).ReadObjectAsync();
        Assert.Equal(HttpStatusCode.NoContent,
            (await client.DeleteAsync($"/sessions/{endedNarrow["sessionId"]!.GetValue<string>()}")).StatusCode);
        var taken = await client.PutAsync($"/sessions/{PutId}", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 3) }));
        await ProblemAssert.IsProblemAsync(taken, HttpStatusCode.Conflict);
        for (int i = 0; i < 2; i++)
        {
            var step = await client.PostAsync($"/sessions/{PutId}/decode-step",
                Json.Body(new { layer = i, queries = Json.Rows(2, 64, 10 + i) }));
            Assert.Equal(HttpStatusCode.OK, step.StatusCode);
        }
        var raw = new ByteArrayContent(MemoryMarshal.AsBytes(Json.Rows(1, 64, 12)[0].AsSpan()).ToArray());
        raw.Headers.ContentType = new("application/octet-stream");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sessions/{PutId}/decode-step?layer=1&rows=1", raw)).StatusCode);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("/sessions/no-such-session-at-all"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/sessions/{deletedId}")).StatusCode);

        var scrape = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.Equal("text/plain", scrape.Content.Headers.ContentType?.MediaType);
        string text = await scrape.Content.ReadAsStringAsync();

        var (exitCode, output) = await Exposition.PromtoolCheckAsync(text);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}");

        Assert.Equal(2, Exposition.Value(text, "crossattention_sessions"));
        Assert.Equal(keptBytes, Exposition.Value(text, "crossattention_kv_bytes", "dtype=\"float32\"", "state=\"live\""));
        Assert.Equal(narrowBytes, Exposition.Value(text, "crossattention_kv_bytes", "dtype=\"bfloat16\"", "state=\"live\""));
        Assert.Equal(0, Exposition.Value(text, "crossattention_kv_bytes", "dtype=\"float16\"", "state=\"live\""));
        Assert.NotNull(Exposition.Value(text, "crossattention_kv_bytes", "state=\"pooled\""));
        Assert.Equal(0, Exposition.Value(text, "crossattention_kv_bytes", "state=\"leased\""));
        Assert.Equal(3, Exposition.Value(text, "crossattention_session_lookups_total", "result=\"hit\""));
        Assert.Equal(1, Exposition.Value(text, "crossattention_session_lookups_total", "result=\"miss\""));
        Assert.Equal(1, Exposition.Value(text, "crossattention_rejections_total", "reason=\"id_taken\""));
        // The PUT of a taken id is refused before it computes: four encodes ran, not five.
        Assert.Equal(4, Exposition.Value(text, "crossattention_encode_duration_seconds_count", "model=\"demo\""));
        Assert.Equal(3, Exposition.Value(text, "crossattention_decode_batch_steps_sum"));
        Assert.Equal(5, Exposition.Value(text, "crossattention_decode_batch_rows_sum"));
        Assert.Equal(0, Exposition.Value(text, "crossattention_compute_queue_length"));
        Assert.Equal(0, Exposition.Value(text, "crossattention_request_in_flight_bytes"));
        // ASP.NET Core's request metrics per route, and the runtime's GC and thread pool.
        Assert.Equal(3, Exposition.Value(text, "http_server_request_duration_seconds_count",
            "http_route=\"/sessions/{id}/decode-step\"", "http_response_status_code=\"200\""));
        Assert.Equal(1, Exposition.Value(text, "http_server_request_duration_seconds_count",
            "http_route=\"/sessions/{id}\"", "http_response_status_code=\"404\""));
        Assert.NotNull(Exposition.Value(text, "dotnet_gc_collections_total"));
        Assert.NotNull(Exposition.Value(text, "dotnet_thread_pool_thread_count_total"));

        // The Grafana dashboard queries series this scrape has (the queue wait appears once a request has waited;
        // its name is checked where the gate is driven by hand).
        var dashboard = File.ReadAllText(Path.Combine(RepositoryRoot(), "deploy", "grafana", "cross-attention.json"));
        var families = System.Text.RegularExpressions.Regex.Matches(dashboard, @"\b(?:crossattention|http_server)_[a-z_]+")
            .Select(m => m.Value).Distinct().Where(n => !n.StartsWith("crossattention_compute_queue_wait_seconds")).ToArray();
        Assert.NotEmpty(families);
        Assert.All(families, name => Assert.True(text.Contains("\n" + name, StringComparison.Ordinal), $"{name} is not in the scrape"));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "CrossAttention.Api.sln"))) return directory.FullName;
        throw new InvalidOperationException("The repository root (CrossAttention.Api.sln) was not found above the test binaries.");
    }
}
