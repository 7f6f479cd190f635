using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Catalog;
using CrossAttention.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.Models;

/// <summary>GET /models/{name}/example: labelled source and target vectors to try a model with.</summary>
public static class ModelExampleEndpoints
{
    public static RouteGroupBuilder MapModelExample(this RouteGroupBuilder group)
    {
        group.MapGet("/{name}/example", Get)
            .WithName("GetModelExample")
            .WithSummary("A labelled source and target to try the model with (the tutorial model has one)")
            .WithDescription("{ source: { tokens, vectors [m × d_src] }, target: { tokens, vectors [n × d_q] } }: encode the " +
                "source, then decode one target vector per step. 404 for a model without an example.");
        return group;
    }

    internal static Results<Ok<ModelExample>, NotFoundProblem> Get(string name, ModelCatalog catalog)
    {
        if (!catalog.TryGet(name, out _))
            return Problems.NotFound("Model not found", $"No model named '{name}'. GET /models lists the models served.");
        return catalog.TryGetExample(name, out var example)
            ? TypedResults.Ok(example)
            : Problems.NotFound("No example", $"Model '{name}' has no example; the built-in '{TutorialModel.Name}' model has one.");
    }
}
