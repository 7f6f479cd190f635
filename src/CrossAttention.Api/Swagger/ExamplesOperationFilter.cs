using System.Text.Json.Nodes;
using CrossAttention.Api.Contracts;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// Request examples that work as shown against the served example model, chosen from each endpoint's own metadata
/// (the request type it accepts, its route parameters), so renaming an endpoint cannot drop them.
/// </summary>
public sealed class ExamplesOperationFilter(ExampleSession example) : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (example.Model is not { } model) return;
        var description = context.ApiDescription;
        bool sessionInPath = false;
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
        {
            if (parameter.In != ParameterLocation.Path) continue;
            switch (parameter.Name)
            {
                case "id" when HttpMethods.IsPut(description.HttpMethod ?? ""):
                    parameter.Example = example.NewId;
                    parameter.Description = "A new session id of your choice (128 random bits, base64url).";
                    break;
                case "id":
                    sessionInPath = true;
                    parameter.Example = example.Id;
                    parameter.Description = "Session id from POST /encode (the example names a session encoded for this page when first used).";
                    break;
                case "name":
                    parameter.Example = model.Name;
                    break;
            }
        }

        var source = Matrix(ExampleSession.Values(ExampleSession.SourceRows, model.SourceDim, 0.37), model.SourceDim);
        var queries = Matrix(ExampleSession.Values(ExampleSession.QueryRows, model.QueryDim, 0.71), model.QueryDim);
        var requestType = description.ActionDescriptor.EndpointMetadata.OfType<IAcceptsMetadata>().FirstOrDefault()?.RequestType;
        JsonObject? body = requestType switch
        {
            _ when requestType == typeof(EncodeRequest) => new()
            {
                ["model"] = model.Name,
                ["source"] = source,
                ["sourceMask"] = new JsonArray(1, 1, 1, 0),
                ["ttlSeconds"] = 600,
            },
            _ when requestType == typeof(DecodeStepRequest) && sessionInPath => new()
            {
                ["layer"] = 0,
                ["queries"] = queries,
                ["returnAttention"] = true,
            },
            _ when requestType == typeof(DecodeStepRequest) => new()
            {
                ["sessionId"] = example.Id,
                ["layer"] = 0,
                ["queries"] = queries,
                ["returnAttention"] = true,
            },
            _ when requestType == typeof(AttentionRequest) => new()
            {
                ["model"] = model.Name,
                ["layer"] = 0,
                ["source"] = source,
                ["sourceMask"] = new JsonArray(1, 1, 1, 0),
                ["queries"] = queries,
                ["returnAttention"] = true,
            },
            _ => null,
        };
        if (body is not null && operation.RequestBody?.Content is { } content &&
            content.TryGetValue(System.Net.Mime.MediaTypeNames.Application.Json, out var json))
            json.Example = body;
    }

    private static JsonArray Matrix(float[] values, int columns)
    {
        var rows = new JsonArray();
        for (int r = 0; r < values.Length / columns; r++)
        {
            var row = new JsonArray();
            for (int c = 0; c < columns; c++) row.Add(values[r * columns + c]);
            rows.Add(row);
        }
        return rows;
    }
}
