using System.Security.Claims;
using CrossAttention.Api.Sessions;

namespace CrossAttention.Api.Auth;

/// <summary>Who a request acts for: the API key's name, or <see cref="Anonymous"/> when the service runs without keys.</summary>
public static class SessionOwner
{
    /// <summary>The owner of every session when no keys are configured (everyone who can reach the service).</summary>
    public const string Anonymous = "";

    public static string Of(ClaimsPrincipal user) =>
        user.Identity is { IsAuthenticated: true, AuthenticationType: ApiKeyAuthenticationHandler.SchemeName, Name: { } name } ? name : Anonymous;

    /// <summary>The caller's session with this id: the only way endpoints name a session, so another key's sessions stay invisible.</summary>
    public static SessionKey SessionKey(this ClaimsPrincipal user, string id) => new(Of(user), id);
}
