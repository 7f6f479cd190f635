using System.Net.Mime;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Features.Sessions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Services;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.Attention;

/// <summary>POST /attention: one layer's cross-attention in one call, nothing cached.</summary>
public static class AttentionEndpoints
{
    public static RouteGroupBuilder MapAttention(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/attention").WithTags("Attention");
        group.MapPost("", AttendAsync)
            .RequireRateLimiting(PressureSetup.ExpensivePolicy)
            .NegotiatesBody<AttentionParameters, AttentionRequest>()
            .WithName("Attention")
            .WithSummary("Stateless cross-attention of one layer: project the source, attend, project the output")
            .WithDescription("Computes K and V of the given layer only, attends the queries to them and forgets them. " +
                "Send Accept: application/octet-stream for raw float32 output.")
            .Accepts<AttentionRequest>(MediaTypeNames.Application.Json)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        return group;
    }

    internal static async Task<Results<NegotiatedAttentionResult, ValidationProblem, NotFoundProblem, ProblemHttpResult>> AttendAsync(
        [AsParameters] AttentionParameters parameters)
    {
        var (body, gate, cancellationToken) = (parameters.Body, parameters.Gate, parameters.CancellationToken);
        if (string.IsNullOrEmpty(body.Model))
            return Problems.Invalid("model", "is required.");
        if (!parameters.Catalog.TryFind(body.Model, out var model, out var missing)) return missing;

        var check = new RequestValidation(parameters.Limits);
        check.Layer(body.Layer, model);
        check.Source(body.Source, model);
        check.Queries(body.Queries, model);
        byte[]? mask = check.IsValid ? check.Mask(body.SourceMask, body.Source!.Rows) : null;
        bool json = !NegotiatedAttentionResult.WantsRawFloat32(parameters.Request);
        if (check.IsValid) check.ResponseSize(body.ReturnAttention, model, body.Queries, body.Source!.Rows, json);
        if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

        // The transient K/V count in the budget while they exist, like a session's (but never evict one).
        var layer = model.Layers[body.Layer!.Value];
        long bytes = KeyValueCache.BytesFor(new KeyValueLayout(model.Heads, body.Source!.Rows, model.HeadDim));
        if (parameters.Ledger.TryReserve(bytes, evictLeastRecentlyUsed: false, out var reservation) != KeyValueReservationResult.Reserved)
            return BudgetFull(parameters.Request.HttpContext.Response, bytes, parameters.Ledger.BudgetBytes);
        KeyValueCache? cache = null;
        try
        {
            using (var lease = await gate.EnterAsync(gate.Capacity, cancellationToken))
                cache = layer.Encode(body.Source.Values, body.Source.Rows, mask, lease.Options, parameters.Pool);
            return new NegotiatedAttentionResult(await CrossAttentionCompute.DecodeAsync(gate, model, body.Layer.Value, cache,
                body.Queries!, body.ReturnAttention, InFlightReservation.For(parameters.Request.HttpContext), json, cancellationToken));
        }
        finally
        {
            reservation!.Dispose(); // first, so that the pool may keep the buffers within the budget
            cache?.Dispose();
        }
    }

    private static ProblemHttpResult BudgetFull(HttpResponse response, long bytes, long budget)
    {
        response.Headers.RetryAfter = SessionsEndpoints.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status507InsufficientStorage, "K/V memory full",
            $"This attention needs {bytes} bytes of K/V while it runs; the K/V memory (Cache:SizeLimitBytes = {budget} bytes) " +
            "is taken by sessions. Retry later.",
            new Dictionary<string, object?> { ["retryAfterSeconds"] = SessionsEndpoints.RetryAfterSeconds });
    }
}
