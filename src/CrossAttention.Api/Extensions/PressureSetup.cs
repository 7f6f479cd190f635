using CrossAttention.Api.Catalog;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Features.Health;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CrossAttention.Api.Extensions;

/// <summary>
/// What keeps the service answering under pressure: the in-flight byte budget, the concurrency limit of expensive
/// endpoints, out-of-memory and stopping reported by the health checks, the shutdown timeout, and the tables the
/// request path uses built at start-up.
/// </summary>
public static class PressureSetup
{
    /// <summary>
    /// The rate-limiting policy of /encode, PUT /sessions/{id} and /attention: admission before the body is read
    /// (Limits:MaxAdmittedExpensiveRequests); their compute permits come after it (<see cref="ExpensiveComputePermits"/>).
    /// </summary>
    public const string ExpensivePolicy = "expensive";

    /// <summary>Types whose static tables the request path reads; built here so a failure stops start-up, not one request forever.</summary>
    internal static readonly Type[] StartupTables = [typeof(JsonNumberParser), typeof(ShortestFloat32), typeof(ModelCatalog)];

    public static IServiceCollection AddRequestPressureLimits(this IServiceCollection services)
    {
        foreach (var type in StartupTables) RuntimeHelpers.RunClassConstructor(type.TypeHandle);

        services.AddSingleton<InFlightBudget>();
        services.AddSingleton<ExpensiveComputePermits>();
        services.AddSingleton<AllocationHealth>();
        services.AddHostedService<IdleMemoryTrim>();
        services.AddHealthChecks()
            .AddCheck<AllocationReadinessCheck>("allocations", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<StoppingCheck>("stopping", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<AllocationLivenessCheck>("allocations-sustained", tags: [HealthEndpoints.LiveTag]);

        services.AddOptions<HostOptions>().Configure<IOptions<CrossAttentionOptions>>((host, options) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(options.Value.ShutdownTimeoutSeconds));
        // Requests are a few levels deep; anything deeper is refused at the level past it.
        services.Configure<JsonOptions>(o => o.SerializerOptions.MaxDepth = 16);

        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(ExpensivePolicy, context =>
            {
                var limits = context.RequestServices.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Limits;
                // One partition, whoever sends them, and no queue: a request past the limit is refused before a byte of
                // its body is read. Slow bodies hold only these slots (and their budgeted bytes), never a compute permit.
                return RateLimitPartition.GetConcurrencyLimiter(ExpensivePolicy, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = limits.MaxAdmittedExpensiveRequests,
                    QueueLimit = 0,
                });
            });
            limiter.OnRejected = WriteQueueFullAsync;
        });
        return services;
    }

    /// <summary>Outermost: a refusal sent before the body was read still reaches a client that is sending it.</summary>
    public static WebApplication UseRequestPressureLimits(this WebApplication app)
    {
        app.UseMiddleware<RefusedBodyDrainMiddleware>();
        return app;
    }

    /// <summary>Refused before the body is read: as many expensive requests as may be admitted are in progress.</summary>
    private static async ValueTask WriteQueueFullAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = ServerBusyException.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        var limits = http.RequestServices.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Limits;
        // A problem result writes problem+json whatever the Accept header names (a raw float32 client included).
        await TypedResults.Problem(title: "Server busy", statusCode: StatusCodes.Status503ServiceUnavailable,
            detail: $"{limits.MaxAdmittedExpensiveRequests} encodes are being received, waiting or computing " +
                "(Limits:MaxAdmittedExpensiveRequests). Retry shortly.").ExecuteAsync(http);
    }
}
