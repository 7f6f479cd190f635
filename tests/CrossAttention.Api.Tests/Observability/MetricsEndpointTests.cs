using System.Net;
using System.Net.Sockets;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Observability;
using CrossAttention.Api.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CrossAttention.Api.Tests.Observability;

public class MetricsEndpointTests
{
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

    /// <summary>Spans are only recorded when an OTLP endpoint is configured (then metrics and traces go there).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TracingIsOnOnlyWithAnOtlpEndpoint(bool endpointSet)
    {
        string[] args = endpointSet ? ["--OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317"] : [];
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(args);
        builder.Services.AddCrossAttention();
        builder.AddCrossAttentionObservability();
        await using var app = builder.Build();
        Assert.Equal(endpointSet, app.Services.GetService<OpenTelemetry.Trace.TracerProvider>() is not null);
        Assert.NotNull(app.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
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
