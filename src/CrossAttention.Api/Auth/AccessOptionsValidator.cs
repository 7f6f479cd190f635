using System.Buffers;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Auth;

/// <summary>
/// Checks the keys at start-up; each message names the configuration key at fault and never echoes a value (a plain key
/// pasted into <c>Sha256</c> by mistake must not reach the log).
/// </summary>
public sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    private static readonly SearchValues<char> LowercaseHex = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> NameCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var hashes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < options.ApiKeys.Count; i++)
        {
            string key = $"{AuthOptions.SectionName}:ApiKeys:{i}";
            var apiKey = options.ApiKeys[i];
            if (apiKey.Name.Length is < 1 or > 64 || apiKey.Name.AsSpan().ContainsAnyExcept(NameCharacters))
                failures.Add($"{key}:Name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-' (it appears in logs and metrics).");
            else if (!names.TryAdd(apiKey.Name, i))
                failures.Add($"{key}:Name '{apiKey.Name}' is also the name of {AuthOptions.SectionName}:ApiKeys:{names[apiKey.Name]}; names must be unique.");

            if (apiKey.Sha256.Length != 64 || apiKey.Sha256.AsSpan().ContainsAnyExcept(LowercaseHex))
                failures.Add($"{key}:Sha256 (key '{apiKey.Name}') must be 64 lowercase hex digits: the SHA-256 of the key, never the key " +
                    $"itself (printf %s \"$KEY\" | sha256sum); it has {apiKey.Sha256.Length} characters.");
            else if (!hashes.TryAdd(apiKey.Sha256, i))
                failures.Add($"{key}:Sha256 (key '{apiKey.Name}') is the same hash as {AuthOptions.SectionName}:ApiKeys:{hashes[apiKey.Sha256]}; " +
                    "each key must be distinct.");

            if (apiKey.TokensPerSecond is < 1)
                failures.Add($"{key}:TokensPerSecond (key '{apiKey.Name}') must be at least 1.");
            if (apiKey.BurstTokens is < 1)
                failures.Add($"{key}:BurstTokens (key '{apiKey.Name}') must be at least 1.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Checks the rate limits, including that an encode fits every bucket (a request costing more than a bucket holds could never run).</summary>
public sealed class RateLimitOptionsValidator(IOptions<AuthOptions> auth) : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        const string S = RateLimitOptions.SectionName;
        var failures = new List<string>();
        if (options.TokensPerSecond < 1) failures.Add($"{S}:TokensPerSecond must be at least 1.");
        if (options.BurstTokens < 1) failures.Add($"{S}:BurstTokens must be at least 1.");
        if (options.EncodeCost < 1) failures.Add($"{S}:EncodeCost must be at least 1.");
        else if (options.EncodeCost > options.BurstTokens)
            failures.Add($"{S}:EncodeCost ({options.EncodeCost}) must not exceed {S}:BurstTokens ({options.BurstTokens}): an encode could never run.");
        var keys = auth.Value.ApiKeys;
        for (int i = 0; i < keys.Count; i++)
            if (keys[i].BurstTokens is { } burst && options.EncodeCost > burst)
                failures.Add($"{S}:EncodeCost ({options.EncodeCost}) must not exceed {AuthOptions.SectionName}:ApiKeys:{i}:BurstTokens ({burst}) " +
                    $"(key '{keys[i].Name}'): its encodes could never run.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
