using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Auth;

/// <summary>API keys, session ownership and per-caller rate limits, wired through ASP.NET Core's own middleware.</summary>
public static class AccessSetup
{
    public static IServiceCollection AddCrossAttentionAccess(this IServiceCollection services)
    {
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<ApiKeyRing>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, ApiKeyRequirement>());
        // A fallback policy covers every endpoint that does not opt out (AllowAnonymous), including ones added later.
        services.AddOptions<AuthorizationOptions>().Configure<IOptions<AuthOptions>>((authorization, auth) =>
        {
            if (auth.Value.KeysConfigured)
                authorization.FallbackPolicy = new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName)
                    .AddRequirements(new ApiKeyRequirement()).Build();
        });

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>, IOptions<AuthOptions>>(
            (limiter, limits, auth) => CallerRateLimiter.Configure(limiter, limits.Value, auth.Value));

        services.AddOptions<SwaggerGenOptions>().Configure<IOptions<AuthOptions>>((swagger, auth) =>
        {
            if (auth.Value.KeysConfigured) ApiKeySecuritySchemes.AddTo(swagger);
        });
        return services;
    }

    /// <summary>After Swagger and static files (which need no key), before the endpoints.</summary>
    public static WebApplication UseCrossAttentionAccess(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }
}

/// <summary>The OpenAPI security schemes behind Swagger UI's Authorize button: the key as a Bearer token or as X-Api-Key.</summary>
public sealed class ApiKeySecuritySchemes : IOperationFilter
{
    public const string Bearer = "Bearer";
    public const string Header = "ApiKey";

    public static void AddTo(SwaggerGenOptions swagger)
    {
        swagger.AddSecurityDefinition(Bearer, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The API key as a Bearer token: Authorization: Bearer <key>.",
        });
        swagger.AddSecurityDefinition(Header, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyAuthenticationHandler.HeaderName,
            Description = "The API key in the X-Api-Key header.",
        });
        swagger.OperationFilter<ApiKeySecuritySchemes>();
    }

    /// <summary>Every operation that needs a key lists both schemes as alternatives (either one will do).</summary>
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<IAllowAnonymous>().Any()) return;
        operation.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, context.Document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Header, context.Document)] = [] },
        ];
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No API key, or one not accepted (problem+json, WWW-Authenticate)." });
        operation.Responses.TryAdd("429", new OpenApiResponse { Description = "This key's rate limit is spent (problem+json, Retry-After)." });
    }
}
