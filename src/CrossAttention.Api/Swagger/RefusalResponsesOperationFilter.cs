using CrossAttention.Api.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// The refusals the service gives under pressure, declared on the operations that can give them, each as
/// problem+json: 503 on every operation (in-flight budget, admission or compute queue full, out of memory), 408 and
/// 413 where a body is read, 401 when keys are configured, 429 when callers are rate limited. Runs before
/// <see cref="HttpShapeOperationFilter"/>, which adds Retry-After to 429, 503 and 507.
/// </summary>
public sealed class RefusalResponsesOperationFilter(IOptions<AuthOptions> auth, IOptions<RateLimitOptions> rateLimit) : IOperationFilter
{
    public const string ProblemJson = "application/problem+json";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        // Health probes, Swagger and the explorer page: no body, no key, no limit.
        if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<IAllowAnonymous>().Any()) return;
        operation.Responses ??= [];
        Declare(operation, context, "503", "Server busy (Limits:MaxInFlightBytes, Limits:MaxAdmittedExpensiveRequests, " +
            "the compute queues) or out of memory; retry after Retry-After seconds.");
        if (operation.RequestBody is not null)
        {
            Declare(operation, context, "408", "The body did not arrive within Limits:RequestBodyTimeoutSeconds.");
            Declare(operation, context, "413", "The body exceeds Limits:MaxRequestBytes.");
        }
        if (auth.Value.KeysConfigured)
            Declare(operation, context, "401", "No API key, or one not accepted (WWW-Authenticate says how to send one).");
        if (auth.Value.KeysConfigured || rateLimit.Value.PerClientAddress)
            Declare(operation, context, "429", "This caller's rate limit is spent; retry after Retry-After seconds.");
        // Refusals the endpoints declare themselves (404, 409, 415, 507 ...) are problem+json too.
        foreach (var (status, response) in operation.Responses)
            if (status.Length == 3 && status[0] is '4' or '5' && response is OpenApiResponse concrete)
                AsProblem(concrete, context);
    }

    private static void Declare(OpenApiOperation operation, OperationFilterContext context, string status, string description)
    {
        if (operation.Responses!.TryGetValue(status, out var existing) && existing is OpenApiResponse concrete)
            concrete.Description = string.IsNullOrEmpty(concrete.Description) || concrete.Description == DefaultDescription(status)
                ? description
                : concrete.Description;
        else
            operation.Responses[status] = new OpenApiResponse { Description = description };
    }

    /// <summary>What the framework writes for a status declared without a description.</summary>
    private static string DefaultDescription(string status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(int.Parse(status, System.Globalization.CultureInfo.InvariantCulture));

    private static void AsProblem(OpenApiResponse response, OperationFilterContext context)
    {
        response.Content ??= new Dictionary<string, OpenApiMediaType>();
        if (response.Content.ContainsKey(ProblemJson)) return;
        response.Content[ProblemJson] = new OpenApiMediaType
        {
            Schema = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository),
        };
    }
}
