using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Observability;

public class MetricsEndpointTests
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

        Assert.Equal(1, Exposition.Value(text, "crossattention_sessions"));
        Assert.Equal(keptBytes, Exposition.Value(text, "crossattention_kv_bytes", "dtype=\"float32\"", "state=\"live\""));
        Assert.NotNull(Exposition.Value(text, "crossattention_kv_bytes", "state=\"recycled\""));
        Assert.Equal(3, Exposition.Value(text, "crossattention_session_lookups_total", "result=\"hit\""));
        Assert.Equal(1, Exposition.Value(text, "crossattention_session_lookups_total", "result=\"miss\""));
        Assert.Equal(1, Exposition.Value(text, "crossattention_rejections_total", "reason=\"id_taken\""));
        Assert.Equal(3, Exposition.Value(text, "crossattention_encode_duration_seconds_count", "model=\"demo\""));
        Assert.Equal(3, Exposition.Value(text, "crossattention_decode_batch_steps_sum"));
        Assert.Equal(5, Exposition.Value(text, "crossattention_decode_batch_rows_sum"));
        Assert.Equal(0, Exposition.Value(text, "crossattention_compute_queue_length"));
        Assert.Equal(0, Exposition.Value(text, "crossattention_request_bytes_in_flight_bytes"));
        // ASP.NET Core's request metrics per route, and the runtime's GC and thread pool.
        Assert.Equal(3, Exposition.Value(text, "http_server_request_duration_seconds_count",
            "http_route=\"/sessions/{id}/decode-step\"", "http_response_status_code=\"200\""));
        Assert.Equal(1, Exposition.Value(text, "http_server_request_duration_seconds_count",
            "http_route=\"/sessions/{id}\"", "http_response_status_code=\"404\""));
        Assert.NotNull(Exposition.Value(text, "dotnet_gc_collections_total"));
        Assert.NotNull(Exposition.Value(text, "dotnet_thread_pool_thread_count_total"));
    }

    [Fact]
    public async Task MetricsCanBeTurnedOff()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Metrics:Enabled"] = "false";
        var response = await factory.CreateClient().GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>With Metrics:Port, /metrics is served there only, the API only on the service's own port.</summary>
    [Fact]
    public async Task ASeparateMetricsPortServesOnlyMetrics()
    {
        int metricsPort = FreePort();
        await using var factory = new KestrelApiFactory();
        factory.Settings["urls"] = "http://127.0.0.1:0";
        factory.Settings["CrossAttention:Metrics:Port"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        factory.StartServer();
        var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var service = addresses.Select(a => new Uri(a)).Single(a => a.Port != metricsPort);
        using var http = new HttpClient();
        var metrics = new Uri($"http://127.0.0.1:{metricsPort}");

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(service, "/health/live"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(service, "/metrics"))).StatusCode);
        var scrape = await http.GetAsync(new Uri(metrics, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.Contains("http_server_request_duration_seconds", await scrape.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(metrics, "/health/live"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(metrics, "/models"))).StatusCode);
    }

    [Fact]
    public async Task AnInvalidMetricsPortStopsStartUpNamingTheKey()
    {
        await using var factory = new ApiFactory();
        factory.Settings["CrossAttention:Metrics:Port"] = "70000";
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("CrossAttention:Metrics:Port", error.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The app on Kestrel with the addresses its configuration gives (not a test server).</summary>
    private sealed class KestrelApiFactory : ApiFactory
    {
        public KestrelApiFactory() => UseKestrel();
    }
}
