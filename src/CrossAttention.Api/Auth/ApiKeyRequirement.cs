using Microsoft.AspNetCore.Authorization;

namespace CrossAttention.Api.Auth;

/// <summary>
/// The fallback policy's requirement when keys are configured: every endpoint needs an accepted key unless it allows
/// anonymous callers (health). Requests no endpoint answers (Swagger UI and its document, static files) pass, wherever
/// their middleware sits in the pipeline: they serve no session and spend no compute.
/// </summary>
public sealed class ApiKeyRequirement : AuthorizationHandler<ApiKeyRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ApiKeyRequirement requirement)
    {
        bool servedByEndpoint = context.Resource is HttpContext http && http.GetEndpoint() is not null;
        bool authenticated = context.User.Identity is { IsAuthenticated: true, AuthenticationType: ApiKeyAuthenticationHandler.SchemeName };
        if (!servedByEndpoint || authenticated) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
