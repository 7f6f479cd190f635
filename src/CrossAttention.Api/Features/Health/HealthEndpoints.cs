using System.Net.Mime;
using CrossAttention.Api.Catalog;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CrossAttention.Api.Features.Health;

/// <summary>/health/live answers while the process runs; /health/ready once every model folder has been loaded.</summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";
    public const string LiveTag = "live";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new()
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = WriteReportAsync,
        }).WithTags("Health").AllowAnonymous();
        app.MapHealthChecks("/health/ready", new()
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteReportAsync,
        }).WithTags("Health").AllowAnonymous();
        return app;
    }

    // Status plus each check's description, so an operator sees which model folder failed and why.
    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = MediaTypeNames.Application.Json;
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }
}

/// <summary>Ready when model loading has finished; degraded (still serving) when some model folder failed.</summary>
public sealed class ModelsLoadedHealthCheck(ModelCatalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!catalog.IsReady) return Task.FromResult(HealthCheckResult.Unhealthy("Models are still loading."));
        if (catalog.Failures.Count > 0)
            return Task.FromResult(HealthCheckResult.Degraded(
                "Some model folders failed to load: " + string.Join("; ", catalog.Failures.Select(f => $"{f.Key}: {f.Value}"))));
        return Task.FromResult(HealthCheckResult.Healthy($"{catalog.All.Count()} models loaded."));
    }
}
