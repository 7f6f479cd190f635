using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Auth;

/// <summary>
/// Accepts <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>; the caller becomes the key's name. A
/// refused request gets 401 problem+json with <c>WWW-Authenticate</c>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger,
    UrlEncoder encoder, ApiKeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    private const string Challenge = "Bearer realm=\"CrossAttention.Api\"";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Enabled) return Task.FromResult(AuthenticateResult.NoResult());
        var presented = ReadPresentedKey(Request);
        if (presented is null) return Task.FromResult(AuthenticateResult.NoResult());
        if (!keys.TryFind(presented, out string name)) return Task.FromResult(AuthenticateResult.Fail("The API key is not accepted."));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        bool presented = ReadPresentedKey(Request) is not null;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = presented ? Challenge + ", error=\"invalid_token\"" : Challenge;
        // As every error of the service: problem+json whatever the Accept header asks for.
        await TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status401Unauthorized,
            Title = presented ? "API key not accepted" : "API key required",
            Detail = presented
                ? "The API key sent is not one this service accepts."
                : $"Send the API key as 'Authorization: Bearer <key>' or '{HeaderName}: <key>'.",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        }).ExecuteAsync(Context);
    }

    /// <summary>The key from the Authorization header (Bearer) or X-Api-Key; an Authorization header of another scheme counts as a wrong key.</summary>
    private static string? ReadPresentedKey(HttpRequest request)
    {
        string? authorization = request.Headers.Authorization;
        if (!string.IsNullOrEmpty(authorization))
            return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : authorization;
        string? header = request.Headers[HeaderName];
        return string.IsNullOrEmpty(header) ? null : header.Trim();
    }
}
