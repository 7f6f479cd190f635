using System.Net.Mime;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Services;
using CrossAttention.Core.Caching;
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
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return group;
    }

    internal static async Task<Results<NegotiatedAttentionResult, ValidationProblem, NotFoundProblem>> AttendAsync(
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

        var layer = model.Layers[body.Layer!.Value];
        KeyValueCache cache;
        using (var lease = await gate.EnterAsync(gate.Capacity, cancellationToken))
            cache = layer.Encode(body.Source!.Values, body.Source.Rows, mask, lease.Options, parameters.Pool);
        using (cache)
            return new NegotiatedAttentionResult(await CrossAttentionCompute.DecodeAsync(gate, model, body.Layer.Value, cache,
                body.Queries!, body.ReturnAttention, InFlightReservation.For(parameters.Request.HttpContext), json, cancellationToken));
    }
}
