using System.Text.Json.Nodes;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Sessions;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// Request examples that work as shown against the served example model (a live example session for the decode
/// steps), and a binary schema for the raw float32 bodies.
/// </summary>
public sealed class ExamplesOperationFilter(ExampleSession example) : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        string? name = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<IEndpointNameMetadata>().FirstOrDefault()?.EndpointName;
        DescribeRawBodies(operation);
        if (name is null || example.Model is not { } model) return;

        var source = Matrix(ExampleSession.Values(ExampleSession.SourceRows, model.SourceDim, 0.37), model.SourceDim);
        var queries = Matrix(ExampleSession.Values(ExampleSession.QueryRows, model.QueryDim, 0.71), model.QueryDim);
        switch (name)
        {
            case "PutSession":
                SetPathExample(operation, SessionIds.New(), "A new session id of your choice (this one is fresh random bits).");
                goto case "Encode";
            case "Encode":
                SetJsonExample(operation, new JsonObject
                {
                    ["model"] = model.Name,
                    ["source"] = source,
                    ["sourceMask"] = new JsonArray(1, 1, 1, 0),
                    ["ttlSeconds"] = 600,
                });
                Describe(operation, "model", $"Raw body only: the model (e.g. {model.Name}).");
                Describe(operation, "rows", "Raw body only: source rows m; the body holds m × d_src float32.");
                Describe(operation, "sourceMask", "Raw body only: optional comma-separated 1 (keep) / 0 (padding), one per row.");
                Describe(operation, "ttlSeconds", "Raw body only: optional sliding TTL in seconds.");
                break;
            case "DecodeStep":
                SetJsonExample(operation, new JsonObject
                {
                    ["sessionId"] = example.EnsureId() ?? "encode-a-source-first",
                    ["layer"] = 0,
                    ["queries"] = queries,
                    ["returnAttention"] = true,
                });
                break;
            case "SessionDecodeStep":
                SetPathExample(operation, example.EnsureId());
                SetJsonExample(operation, new JsonObject { ["layer"] = 0, ["queries"] = queries, ["returnAttention"] = true });
                Describe(operation, "layer", "Raw body only: the decoder layer.");
                Describe(operation, "rows", "Raw body only: query rows n; the body holds n × d_q float32.");
                Describe(operation, "returnAttention", "Raw body only: also return the attention weights.");
                break;
            case "GetSession":
            case "DeleteSession":
                SetPathExample(operation, example.EnsureId());
                break;
            case "GetModel":
            case "GetModelExample":
                if (operation.Parameters?.FirstOrDefault(p => p.Name == "name") is OpenApiParameter modelName)
                    modelName.Example = model.Name;
                break;
            case "Attention":
                SetJsonExample(operation, new JsonObject
                {
                    ["model"] = model.Name,
                    ["layer"] = 0,
                    ["source"] = source,
                    ["sourceMask"] = new JsonArray(1, 1, 1, 0),
                    ["queries"] = queries,
                    ["returnAttention"] = true,
                });
                break;
        }
    }

    private static void DescribeRawBodies(OpenApiOperation operation)
    {
        if (operation.RequestBody?.Content is { } content && content.TryGetValue(RequestBody.OctetStream, out var raw))
            raw.Schema = Binary("Raw little-endian float32 values, row-major; the shape is given in the query string.");
        if (operation.Responses is null) return;
        foreach (var response in operation.Responses.Values)
            if (response.Content is { } body && body.TryGetValue(RequestBody.OctetStream, out var rawOut))
                rawOut.Schema = Binary("Raw little-endian float32: output [n, d_q], then attention [heads, n, m] when asked " +
                    "(shapes in the X-Output-Shape and X-Attention-Shape headers).");
    }

    private static OpenApiSchema Binary(string description) =>
        new() { Type = JsonSchemaType.String, Format = "binary", Description = description };

    private static void SetJsonExample(OpenApiOperation operation, JsonObject value)
    {
        if (operation.RequestBody?.Content is { } content && content.TryGetValue(RequestBody.Json, out var json))
            json.Example = value;
    }

    private static void SetPathExample(OpenApiOperation operation, string? sessionId,
        string description = "Session id from POST /encode (the example is a live session encoded for this page).")
    {
        if (sessionId is not null && operation.Parameters?.FirstOrDefault(p => p.Name == "id") is OpenApiParameter id)
        {
            id.Example = sessionId;
            id.Description = description;
        }
    }

    private static void Describe(OpenApiOperation operation, string parameter, string description)
    {
        if (operation.Parameters?.FirstOrDefault(p => p.Name == parameter) is OpenApiParameter p) p.Description = description;
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
