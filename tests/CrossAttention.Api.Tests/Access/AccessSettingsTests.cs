using CrossAttention.Api.Auth;
using CrossAttention.Api.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Tests.Access;

public sealed class AccessSettingsTests
{
    private static readonly string GoodHash = KeyedApiFactory.Sha256("some-key-value-1");

    [Theory]
    [InlineData("CrossAttention:Auth:ApiKeys:0:Sha256", "team-a", "ABCDEF")]                       // too short
    [InlineData("CrossAttention:Auth:ApiKeys:0:Sha256", "team-a", "upper")]                        // uppercase hex
    [InlineData("CrossAttention:Auth:ApiKeys:0:Sha256", "team-a", "a-plain-key-pasted-by-mistake")] // not hex
    [InlineData("CrossAttention:Auth:ApiKeys:0:Name", "", null)]
    [InlineData("CrossAttention:Auth:ApiKeys:0:Name", "team/a", null)]
    public void BadKeysStopStartNamingTheKeyWithoutEchoingTheValue(string faultyKey, string name, string? hash)
    {
        if (hash == "upper") hash = GoodHash.ToUpperInvariant();
        var error = Assert.Throws<OptionsValidationException>(() => Validate<AuthOptions>(new()
        {
            ["CrossAttention:Auth:ApiKeys:0:Name"] = name,
            ["CrossAttention:Auth:ApiKeys:0:Sha256"] = hash ?? GoodHash,
        }));
        Assert.Contains(faultyKey, error.Message);
        if (hash is not null) Assert.DoesNotContain(hash, error.Message);
    }

    [Fact]
    public void DuplicateNamesAndHashesAreRejected()
    {
        var names = Assert.Throws<OptionsValidationException>(() => Validate<AuthOptions>(new()
        {
            ["CrossAttention:Auth:ApiKeys:0:Name"] = "team-a", ["CrossAttention:Auth:ApiKeys:0:Sha256"] = GoodHash,
            ["CrossAttention:Auth:ApiKeys:1:Name"] = "team-a", ["CrossAttention:Auth:ApiKeys:1:Sha256"] = KeyedApiFactory.Sha256("other"),
        }));
        Assert.Contains("CrossAttention:Auth:ApiKeys:1:Name", names.Message);

        var hashes = Assert.Throws<OptionsValidationException>(() => Validate<AuthOptions>(new()
        {
            ["CrossAttention:Auth:ApiKeys:0:Name"] = "team-a", ["CrossAttention:Auth:ApiKeys:0:Sha256"] = GoodHash,
            ["CrossAttention:Auth:ApiKeys:1:Name"] = "team-b", ["CrossAttention:Auth:ApiKeys:1:Sha256"] = GoodHash,
        }));
        Assert.Contains("CrossAttention:Auth:ApiKeys:1:Sha256", hashes.Message);
    }

    [Theory]
    [InlineData("CrossAttention:RateLimit:TokensPerSecond", "0")]
    [InlineData("CrossAttention:RateLimit:BurstTokens", "0")]
    [InlineData("CrossAttention:RateLimit:EncodeCost", "0")]
    [InlineData("CrossAttention:RateLimit:EncodeCost", "100001")] // more than the default bucket holds: encodes could never run
    public void BadRateLimitsStopStartNamingTheKey(string key, string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Validate<RateLimitOptions>(new() { [key] = value }));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void AKeysOwnBucketMustHoldAnEncode()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Validate<RateLimitOptions>(new()
        {
            ["CrossAttention:Auth:ApiKeys:0:Name"] = "team-a", ["CrossAttention:Auth:ApiKeys:0:Sha256"] = GoodHash,
            ["CrossAttention:Auth:ApiKeys:0:BurstTokens"] = "5",
        }));
        Assert.Contains("CrossAttention:Auth:ApiKeys:0:BurstTokens", error.Message);
    }

    [Fact]
    public void TheDefaultsAreValidAndLeaveKeysOff()
    {
        Assert.False(Validate<AuthOptions>([]).KeysConfigured);
        var limits = Validate<RateLimitOptions>([]);
        Assert.True(limits.EncodeCost <= limits.BurstTokens);
    }

    [Fact]
    public void KeysComeFromEnvironmentVariablesInTheDocumentedForm()
    {
        const string prefix = "CA_ACCESS_TEST_";
        Environment.SetEnvironmentVariable(prefix + "CrossAttention__Auth__ApiKeys__0__Name", "from-env");
        Environment.SetEnvironmentVariable(prefix + "CrossAttention__Auth__ApiKeys__0__Sha256", GoodHash);
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();
            var auth = Provider(configuration).GetRequiredService<IOptions<AuthOptions>>().Value;
            var key = Assert.Single(auth.ApiKeys);
            Assert.Equal(("from-env", GoodHash), (key.Name, key.Sha256));
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "CrossAttention__Auth__ApiKeys__0__Name", null);
            Environment.SetEnvironmentVariable(prefix + "CrossAttention__Auth__ApiKeys__0__Sha256", null);
        }
    }

    // The same registration the app makes (ValidateOnStart runs this validation before the server starts).
    private static T Validate<T>(Dictionary<string, string?> settings) where T : class =>
        Provider(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).GetRequiredService<IOptions<T>>().Value;

    private static ServiceProvider Provider(IConfiguration configuration)
    {
        var services = new ServiceCollection().AddSingleton(configuration).AddLogging();
        services.AddCrossAttentionAccess();
        return services.BuildServiceProvider();
    }
}
