using CrossAttention.Core.Caching;
using System.Diagnostics;
using System.Net;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Diagnostics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CrossAttention.Api.Observability;

/// <summary>
/// Metrics (the service's meter plus ASP.NET Core's and the runtime's) at <c>/metrics</c> for Prometheus; metrics and
/// traces over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; the trace id in every problem+json.
/// </summary>
public static class ObservabilityRegistration
{
    /// <summary>The standard OpenTelemetry variable; its presence turns the OTLP exporters on.</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public const string MetricsPath = "/metrics";

    /// <summary>Call after AddCrossAttention (it wraps the session store registered there).</summary>
    public static WebApplicationBuilder AddCrossAttentionObservability(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();
        services.AddSingleton<CrossAttentionMetrics>();
        services.AddSingleton<SessionTelemetry>();
        DecorateSessionStore(services);

        // A problem's traceId is the W3C trace id an OTLP backend shows for the request (32 hex digits).
        services.Configure<ProblemDetailsOptions>(options =>
        {
            var earlier = options.CustomizeProblemDetails;
            options.CustomizeProblemDetails = context =>
            {
                earlier?.Invoke(context);
                context.ProblemDetails.Extensions["traceId"] =
                    Activity.Current?.TraceId.ToHexString() ?? context.HttpContext.TraceIdentifier;
            };
        });

        bool otlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointVariable]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "cross-attention-api"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(CrossAttentionMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                // Three runtime gauges end in "count", which Prometheus reserves for histograms and summaries
                // (promtool rejects them): renamed so the exposition lints clean.
                metrics.AddView("dotnet.assembly.count", new MetricStreamConfiguration { Name = "dotnet.assemblies.loaded" })
                    .AddView("dotnet.process.cpu.count", new MetricStreamConfiguration { Name = "dotnet.process.cpus" })
                    .AddView("dotnet.timer.count", new MetricStreamConfiguration { Name = "dotnet.timers.active" });
                if (otlp) metrics.AddOtlpExporter();
            });
        // Spans are only made when someone collects them: without an exporter, tracing costs nothing.
        if (otlp)
            telemetry.WithTracing(tracing => tracing
                .AddSource(CrossAttentionTracing.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter());

        builder.WebHost.ConfigureKestrel((context, kestrel) => ListenForMetrics(context.Configuration, kestrel));
        return builder;
    }

    /// <summary>
    /// Serves <c>/metrics</c> when enabled: on the service's port, or only on <c>Metrics:Port</c>, where every other
    /// path is 404. Place it before the endpoints.
    /// </summary>
    public static WebApplication UseCrossAttentionMetrics(this WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<SessionTelemetry>().Metrics;
        metrics.ObserveSessions(UsageReader(app.Services.GetRequiredService<ISessionStore>()));
        var ledger = app.Services.GetRequiredService<KeyValueLedger>();
        metrics.ObserveLedger(() => ledger.Snapshot);
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        int? port = options.Port;
        if (port is not null)
        {
            app.Use((context, next) =>
            {
                if (context.Connection.LocalPort != port || context.Request.Path == MetricsPath) return next(context);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        }
        if (options.Enabled)
            app.UseOpenTelemetryPrometheusScrapingEndpoint(context =>
                context.Request.Path == MetricsPath && (port is null || context.Connection.LocalPort == port));
        return app;
    }

    private static Func<(long Sessions, long Bytes)> UsageReader(ISessionStore store) => () =>
    {
        var usage = store.Usage;
        return (usage.Count, usage.Bytes);
    };

    /// <summary>
    /// With a separate metrics port, Kestrel listens on the service's own addresses (urls, else http_ports, else the
    /// default http://localhost:5000) and on that port. Addresses set in code replace the configured ones, so the
    /// configured ones are listed here too.
    /// </summary>
    private static void ListenForMetrics(IConfiguration configuration, KestrelServerOptions kestrel)
    {
        var options = configuration.GetSection(MetricsOptions.SectionName).Get<MetricsOptions>() ?? new MetricsOptions();
        if (!options.Enabled || options.Port is not { } port) return;
        foreach (var url in ServiceUrls(configuration))
        {
            var address = BindingAddress.Parse(url);
            Action<ListenOptions> https = address.Scheme == "https" ? static listen => listen.UseHttps() : static _ => { };
            if (address.Host is "localhost") kestrel.ListenLocalhost(address.Port, https);
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip)) kestrel.Listen(ip, address.Port, https);
            else kestrel.ListenAnyIP(address.Port, https); // "*", "+" or a host name: every interface, as Kestrel does
        }
        kestrel.ListenAnyIP(port);
    }

    private static IEnumerable<string> ServiceUrls(IConfiguration configuration)
    {
        static string[] Split(string? list) => list?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        var urls = Split(configuration["urls"]);
        if (urls.Length > 0) return urls;
        var ports = Split(configuration["http_ports"]).Select(p => $"http://*:{p}")
            .Concat(Split(configuration["https_ports"]).Select(p => $"https://*:{p}")).ToArray();
        return ports.Length > 0 ? ports : ["http://localhost:5000"];
    }

    private static void DecorateSessionStore(IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(ISessionStore))
            ?? throw new InvalidOperationException("Register the session store (AddCrossAttention) before AddCrossAttentionObservability.");
        services.Remove(registered);
        services.Add(ServiceDescriptor.Singleton<ISessionStore>(sp => new ObservedSessionStore(Create(sp, registered),
            sp.GetRequiredService<SessionTelemetry>())));
    }

    private static ISessionStore Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (ISessionStore)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
