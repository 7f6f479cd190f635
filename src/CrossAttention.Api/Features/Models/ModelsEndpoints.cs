using CrossAttention.Api.Catalog;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.Models;

/// <summary>GET /models and GET /models/{name}: what the service serves and each model's shape.</summary>
public static class ModelsEndpoints
{
    public static RouteGroupBuilder MapModels(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/models").WithTags("Models");
        group.MapGet("", List)
            .WithName("ListModels")
            .WithSummary("Every model served, with its cross-attention shape");
        group.MapGet("/{name}", Get)
            .WithName("GetModel")
            .WithSummary("One model's cross-attention shape");
        group.MapModelExample();
        return group;
    }

    internal static Ok<ModelInfo[]> List(ModelCatalog catalog) =>
        TypedResults.Ok(catalog.All.Select(ModelInfo.From).ToArray());

    internal static Results<Ok<ModelInfo>, NotFoundProblem> Get(string name, ModelCatalog catalog) =>
        catalog.TryFind(name, out var model, out var missing) ? TypedResults.Ok(ModelInfo.From(model)) : missing;
}
