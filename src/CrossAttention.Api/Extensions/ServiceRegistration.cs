using CrossAttention.Api.Catalog;
using CrossAttention.Api.Features.Health;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Swagger;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Scheduling;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Extensions;

public static class ServiceRegistration
{
    /// <summary>
    /// The repository root's appsettings.json is copied next to the binaries; it is the lowest-precedence source, so
    /// appsettings in the content root, environment variables and the command line still override it.
    /// </summary>
    public static WebApplicationBuilder AddDefaultSettingsFile(this WebApplicationBuilder builder)
    {
        var source = new JsonConfigurationSource
        {
            Path = "appsettings.json",
            Optional = true,
            ReloadOnChange = false,
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
        };
        ((IConfigurationBuilder)builder.Configuration).Sources.Insert(0, source);
        return builder;
    }

    public static IServiceCollection AddCrossAttention(this IServiceCollection services)
    {
        services.AddOptions<CrossAttentionOptions>().BindConfiguration(CrossAttentionOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CrossAttentionOptions>, CrossAttentionOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<ModelCatalog>();
        services.AddHostedService<ModelLoadingService>();
        services.AddSingleton(sp =>
        {
            var cache = sp.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Cache;
            return new KeyValueLedger(cache.SizeLimitBytes, cache.RecycledBytesLimit);
        });
        services.AddSingleton<InProcessSessionStore>();
        services.AddSingleton<ISessionStore>(sp =>
            new ExampleSessionStore(sp.GetRequiredService<InProcessSessionStore>(), sp.GetRequiredService<ExampleSession>()));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<CrossAttentionOptions>>().Value;
            KernelVariants.TryParse(options.Compute.Variant, out var variant, out _); // validated at start
            return new ComputeGate(Environment.ProcessorCount, options.Batching.MaxRows, variant,
                sp.GetService<CrossAttention.Core.Diagnostics.CrossAttentionMetrics>(), options.Batching.MaxQueuedSteps);
        });
        services.AddSingleton(sp => sp.GetRequiredService<KeyValueLedger>().Pool);
        services.AddSingleton<ExampleSession>();

        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o => o.SerializerOptions.AllowTrailingCommas = false);

        services.AddHealthChecks().AddCheck<ModelsLoadedHealthCheck>("models", tags: [HealthEndpoints.ReadyTag]);
        services.AddCrossAttentionSwagger();
        services.AddRequestPressureLimits();
        return services;
    }
}
