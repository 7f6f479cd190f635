namespace CrossAttention.Api.Auth;

/// <summary>
/// API keys: section <c>CrossAttention:Auth</c>. No keys (the default) means no authentication at all: everyone who can
/// reach the port is trusted with every session whose id they learn.
/// </summary>
public sealed class AuthOptions
{
    public const string SectionName = "CrossAttention:Auth";

    /// <summary>The accepted keys, by name and SHA-256; the plain keys are never configured.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    public bool KeysConfigured => ApiKeys.Count > 0;
}

/// <summary>One accepted key (env form <c>CrossAttention__Auth__ApiKeys__0__Name</c>, <c>…__0__Sha256</c>).</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Who the key belongs to; it owns the sessions created with the key and names its rate-limit bucket.</summary>
    public string Name { get; set; } = "";

    /// <summary>Lowercase hex SHA-256 of the key's UTF-8 bytes (<c>printf %s "$KEY" | sha256sum</c>).</summary>
    public string Sha256 { get; set; } = "";

    /// <summary>This key's refill rate, overriding <c>RateLimit:TokensPerSecond</c>.</summary>
    public int? TokensPerSecond { get; set; }

    /// <summary>This key's bucket size, overriding <c>RateLimit:BurstTokens</c>.</summary>
    public int? BurstTokens { get; set; }
}

/// <summary>
/// Token buckets per caller: section <c>CrossAttention:RateLimit</c>. One bucket per API key when keys are configured;
/// without keys, one per client address when <see cref="PerClientAddress"/> is on, else no limit.
/// </summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "CrossAttention:RateLimit";

    /// <summary>Tokens added to each bucket per second. The default is well above what one instance serves (~13k steps/s).</summary>
    public int TokensPerSecond { get; set; } = 50_000;

    /// <summary>Most tokens a bucket holds: what a caller may spend at once after idling.</summary>
    public int BurstTokens { get; set; } = 100_000;

    /// <summary>Tokens an encode (POST /encode, PUT /sessions/{id}) or a stateless POST /attention costs; everything else costs 1.</summary>
    public int EncodeCost { get; set; } = 10;

    /// <summary>Without keys, limit each client address (the connection's, or what forwarded-headers middleware set).</summary>
    public bool PerClientAddress { get; set; }
}
