using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Observability;

/// <summary>Section <c>CrossAttention:Metrics</c>: the Prometheus scrape endpoint.</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "CrossAttention:Metrics";

    /// <summary>Serve <c>/metrics</c> (Prometheus text format).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Serve <c>/metrics</c> only on this extra port (and nothing else there), so it can stay off the public ingress;
    /// null serves it on the service's own port.
    /// </summary>
    public int? Port { get; set; }
}

public sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options) =>
        options.Port is null or (>= 1 and <= 65535)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{MetricsOptions.SectionName}:Port ({options.Port}) must be between 1 and 65535.");
}
