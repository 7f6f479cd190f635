using CrossAttention.Api.Contracts;
using CrossAttention.Api.Features.Sessions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Models;
using CrossAttention.Api.Options;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Scheduling;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Features.Attention;

/// <summary>POST /attention: one layer's cross-attention in one call, nothing cached.</summary>
public static class AttentionEndpoints
{
    public static RouteGroupBuilder MapAttention(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/attention").WithTags("Attention");
        group.MapPost("", AttendAsync)
            .WithName("Attention")
            .WithSummary("Stateless cross-attention of one layer: project the source, attend, project the output")
            .WithDescription("Computes K and V of the given layer only, attends the queries to them and forgets them. " +
                "Send Accept: application/octet-stream for raw float32 output.")
            .Accepts<AttentionRequest>(RequestBody.Json)
            .Produces<AttentionResult>(StatusCodes.Status200OK, RequestBody.Json, RequestBody.OctetStream)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return group;
    }

    internal static async Task<Results<Ok<AttentionResult>, RawFloat32Result, ValidationProblem, NotFoundProblem, ProblemHttpResult>>
        AttendAsync(HttpRequest request, ModelCatalog catalog, ComputeGate gate, KeyValueBufferPool pool, IOptions<CrossAttentionOptions> options,
            IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!RequestBody.IsJson(request)) return RequestBody.UnsupportedMediaType(request, binaryAllowed: false);
        var (body, error) = await RequestBody.ReadJsonAsync<AttentionRequest>(request, settings.Limits.MaxRequestBytes,
            json.Value.SerializerOptions, cancellationToken);
        if (error is not null) return error;
        using (body)
        {
            if (string.IsNullOrEmpty(body!.Model))
                return Problems.Invalid("model", "is required.");
            if (!SessionsEndpoints.TryFindModel(catalog, body.Model, out var model, out var missing)) return missing;

            var check = new RequestValidation(settings.Limits);
            check.Layer(body.Layer, model);
            check.Source(body.Source, model);
            check.Queries(body.Queries, model);
            byte[]? mask = check.IsValid ? check.Mask(body.SourceMask, body.Source!.Rows) : null;
            if (check.IsValid) check.AttentionSize(body.ReturnAttention, model, body.Queries, body.Source!.Rows);
            if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

            var layer = model.Layers[body.Layer!.Value];
            KeyValueCache cache;
            using (var lease = await gate.EnterAsync(gate.Capacity, cancellationToken))
                cache = layer.Encode(body.Source!.Values, body.Source.Rows, mask, lease.Options, pool);
            AttentionResult result;
            using (cache)
                result = await CrossAttentionCompute.DecodeAsync(gate, model, body.Layer.Value, cache, body.Queries!,
                    body.ReturnAttention, cancellationToken);
            return CrossAttentionCompute.WantsRawFloat32(request) ? new RawFloat32Result(result) : TypedResults.Ok(result);
        }
    }
}
