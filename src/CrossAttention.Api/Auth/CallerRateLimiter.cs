using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Auth;

/// <summary>
/// One token bucket per caller (API key name; without keys, optionally the client address). A request takes as many
/// tokens as it costs: encodes and stateless attention <see cref="RateLimitOptions.EncodeCost"/>, everything else 1.
/// A caller whose bucket is short gets 429 problem+json with Retry-After; nothing queues.
/// </summary>
public static class CallerRateLimiter
{
    /// <summary>Endpoints (by name) that project a whole source: they cost <see cref="RateLimitOptions.EncodeCost"/>.</summary>
    public static readonly IReadOnlySet<string> EncodeEndpoints = new HashSet<string>(StringComparer.Ordinal) { "Encode", "PutSession", "Attention" };

    public static void Configure(RateLimiterOptions limiter, RateLimitOptions limits, AuthOptions auth)
    {
        var perKey = auth.ApiKeys.ToDictionary(k => k.Name, StringComparer.Ordinal);
        var partitions = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        {
            // Health probes, Swagger UI and static files spend no compute and must answer whatever a caller has spent.
            if (context.GetEndpoint() is not { } endpoint || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
                return RateLimitPartition.GetNoLimiter("");
            if (auth.KeysConfigured)
            {
                // Unauthenticated requests either are refused (401) before this point or touch no session (health, Swagger).
                string owner = SessionOwner.Of(context.User);
                if (owner == SessionOwner.Anonymous) return RateLimitPartition.GetNoLimiter("");
                var key = perKey[owner];
                return RateLimitPartition.GetTokenBucketLimiter("key:" + owner,
                    _ => Bucket(key.TokensPerSecond ?? limits.TokensPerSecond, key.BurstTokens ?? limits.BurstTokens));
            }
            if (limits.PerClientAddress && context.Connection.RemoteIpAddress is { } address)
                return RateLimitPartition.GetTokenBucketLimiter("ip:" + address, _ => Bucket(limits.TokensPerSecond, limits.BurstTokens));
            return RateLimitPartition.GetNoLimiter("");
        });
        limiter.GlobalLimiter = new CostedRateLimiter(partitions, context => Cost(context, limits));
        limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        // One OnRejected serves every limiter. An empty token bucket says when to retry; the encode concurrency limiter
        // (configured before this, with its own 503 answer) does not.
        var otherLimiters = limiter.OnRejected;
        limiter.OnRejected = (rejected, cancellationToken) =>
            otherLimiters is null || rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out _)
                ? WriteRejectionAsync(rejected, cancellationToken)
                : otherLimiters(rejected, cancellationToken);
    }

    public static int Cost(HttpContext context, RateLimitOptions limits) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>() is { } name && EncodeEndpoints.Contains(name.EndpointName)
            ? limits.EncodeCost
            : 1;

    private static TokenBucketRateLimiterOptions Bucket(int tokensPerSecond, int burstTokens) => new()
    {
        TokenLimit = burstTokens,
        TokensPerPeriod = tokensPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var http = rejected.HttpContext;
        int seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests,
            Title = "Rate limit exceeded",
            Detail = $"This caller's token bucket is empty; retry in {seconds} s ({RateLimitOptions.SectionName}).",
            Type = "https://tools.ietf.org/html/rfc6585#section-4",
            Extensions = { ["retryAfterSeconds"] = seconds },
        }).ExecuteAsync(http);
    }

    /// <summary>Takes a request's cost in tokens from its partition's bucket, instead of the one permit the middleware asks for.</summary>
    private sealed class CostedRateLimiter(PartitionedRateLimiter<HttpContext> inner, Func<HttpContext, int> cost)
        : PartitionedRateLimiter<HttpContext>
    {
        public override RateLimiterStatistics? GetStatistics(HttpContext resource) => inner.GetStatistics(resource);

        protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
            inner.AttemptAcquire(resource, permitCount * cost(resource));

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
            inner.AcquireAsync(resource, permitCount * cost(resource), cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
        }

        protected override ValueTask DisposeAsyncCore() => inner.DisposeAsync();
    }
}
