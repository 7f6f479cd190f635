using CrossAttention.Core.Kernels;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Options;

/// <summary>Checks the settings at start-up; each message names the configuration key at fault.</summary>
public sealed class CrossAttentionOptionsValidator : IValidateOptions<CrossAttentionOptions>
{
    public ValidateOptionsResult Validate(string? name, CrossAttentionOptions options)
    {
        const string S = CrossAttentionOptions.SectionName;
        var failures = new List<string>();
        void Require(bool ok, string key, string message)
        {
            if (!ok) failures.Add($"{S}:{key} {message}");
        }

        if (!string.IsNullOrWhiteSpace(options.ModelsDirectory))
            Require(Directory.Exists(options.ModelsDirectory), "ModelsDirectory", $"'{options.ModelsDirectory}' is not an existing directory.");
        Require(options.Cache.SizeLimitBytes > 0, "Cache:SizeLimitBytes", "must be greater than 0.");
        Require(options.Cache.DefaultTtlSeconds > 0, "Cache:DefaultTtlSeconds", "must be greater than 0.");
        Require(options.Cache.MaxTtlSeconds > 0, "Cache:MaxTtlSeconds", "must be greater than 0.");
        Require(options.Cache.DefaultTtlSeconds <= options.Cache.MaxTtlSeconds, "Cache:DefaultTtlSeconds",
            $"({options.Cache.DefaultTtlSeconds}) must not exceed {S}:Cache:MaxTtlSeconds ({options.Cache.MaxTtlSeconds}).");
        Require(KeyValueElementTypes.TryParse(options.Cache.KvDtype, out _), "Cache:KvDtype",
            $"'{options.Cache.KvDtype}' is not a K/V dtype: use {string.Join(", ", KeyValueElementTypes.Names)}.");
        Require(KeyValueElementTypes.TryParse(options.WeightsDtype, out _), "WeightsDtype",
            $"'{options.WeightsDtype}' is not a weights dtype: use {string.Join(", ", KeyValueElementTypes.Names)}.");
        foreach (var (model, overrides) in options.ModelOverrides)
            Require(overrides.WeightsDtype is null || KeyValueElementTypes.TryParse(overrides.WeightsDtype, out _),
                $"ModelOverrides:{model}:WeightsDtype",
                $"'{overrides.WeightsDtype}' is not a weights dtype: use {string.Join(", ", KeyValueElementTypes.Names)}.");
        Require(CacheOptions.IsKnownWhenFull(options.Cache.WhenFull), "Cache:WhenFull",
            $"must be '{CacheOptions.Reject}' or '{CacheOptions.EvictLeastRecentlyUsed}', not '{options.Cache.WhenFull}'.");
        Require(options.Cache.RecycledBytesLimit >= 0, "Cache:RecycledBytesLimit", "must not be negative.");
        Require(options.Limits.MaxSourceLength > 0, "Limits:MaxSourceLength", "must be greater than 0.");
        Require(options.Limits.MaxQueries > 0, "Limits:MaxQueries", "must be greater than 0.");
        Require(options.Limits.MaxRequestBytes >= 1024, "Limits:MaxRequestBytes", "must be at least 1024.");
        // JSON spends as little as 2 bytes per float, and parsed floats take 4: keep that buffer well inside one array.
        Require(options.Limits.MaxRequestBytes <= 512L << 20, "Limits:MaxRequestBytes", $"must be at most {512L << 20} (512 MiB).");
        Require(options.Batching.MaxQueuedSteps > 0, "Batching:MaxQueuedSteps", "must be greater than 0.");
        Require(options.Limits.MaxRecordedSteps is >= 1 and <= 65536, "Limits:MaxRecordedSteps", "must be between 1 and 65536.");
        // One body of the largest size holds its buffer, the half-size one it grew from, and its parsed matrix (JSON can
        // spend as little as 2 bytes of text on a 4-byte float): 4 × MaxRequestBytes at worst.
        Require(options.Limits.MaxInFlightBytes >= 4 * options.Limits.MaxRequestBytes, "Limits:MaxInFlightBytes",
            $"({options.Limits.MaxInFlightBytes}) must be at least 4 × {S}:Limits:MaxRequestBytes ({4 * options.Limits.MaxRequestBytes}), or a body of the largest size could be refused on an idle server.");
        Require(options.Limits.MaxResponseBytes >= 1024, "Limits:MaxResponseBytes", "must be at least 1024.");
        Require(options.Limits.RequestBodyTimeoutSeconds > 0, "Limits:RequestBodyTimeoutSeconds", "must be greater than 0.");
        Require(options.Limits.MaxConcurrentExpensiveRequests > 0, "Limits:MaxConcurrentExpensiveRequests", "must be greater than 0.");
        Require(options.Limits.ExpensiveRequestQueueLength >= 0, "Limits:ExpensiveRequestQueueLength", "must not be negative.");
        Require(options.Limits.MaxAdmittedExpensiveRequests >= options.Limits.MaxConcurrentExpensiveRequests, "Limits:MaxAdmittedExpensiveRequests",
            $"({options.Limits.MaxAdmittedExpensiveRequests}) must be at least {S}:Limits:MaxConcurrentExpensiveRequests ({options.Limits.MaxConcurrentExpensiveRequests}).");
        Require(options.ShutdownTimeoutSeconds is >= 1 and <= 3600, "ShutdownTimeoutSeconds", "must be between 1 and 3600.");
        Require(options.Batching.MaxRows is >= 1 and <= 4096, "Batching:MaxRows", "must be between 1 and 4096.");
        Require(KernelVariants.TryParse(options.Compute.Variant, out _, out string? variantError), "Compute:Variant", variantError ?? "");
        if (options.Demo.Enabled)
        {
            Require(options.Demo.Layers is >= 1 and <= 128, "Demo:Layers", "must be between 1 and 128.");
            Require(options.Demo.Heads is >= 1 and <= 256, "Demo:Heads", "must be between 1 and 256.");
            Require(options.Demo.DModel is >= 1 and <= 16384, "Demo:DModel", "must be between 1 and 16384.");
            Require(options.Demo.Heads < 1 || options.Demo.DModel % options.Demo.Heads == 0, "Demo:DModel",
                $"({options.Demo.DModel}) must be a multiple of {S}:Demo:Heads ({options.Demo.Heads}).");
        }
        else if (!options.Tutorial.Enabled)
        {
            Require(!string.IsNullOrWhiteSpace(options.ModelsDirectory), "Demo:Enabled",
                $"is false, so is {S}:Tutorial:Enabled, and no ModelsDirectory is set: the service would have no model.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
