using System.Net.Mime;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// What a generated client needs beyond the types: every attention response as the one named AttentionResult
/// component, the response headers (Location, Retry-After, the raw shapes), and the raw float32 bodies as binary
/// with their query parameters described.
/// </summary>
public sealed class HttpShapeOperationFilter : IOperationFilter
{
    public const string AttentionResultSchema = "AttentionResult";

    private static readonly Dictionary<string, string> RawQueryParameters = new(StringComparer.Ordinal)
    {
        ["model"] = "Raw body only: the model (GET /models lists them).",
        ["rows"] = "Raw body only: the number of float32 rows in the body (source rows m, or query rows n).",
        ["sourceMask"] = "Raw body only: optional comma-separated 1 (keep) / 0 (padding), one per source row.",
        ["ttlSeconds"] = "Raw body only: optional sliding TTL in seconds.",
        ["layer"] = "Raw body only: the decoder layer.",
        ["returnAttention"] = "Raw body only: also return the attention weights.",
    };

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
            if (parameter.In == ParameterLocation.Query && RawQueryParameters.TryGetValue(parameter.Name ?? "", out var text))
                parameter.Description = text;

        if (operation.RequestBody?.Content is { } requestContent && requestContent.TryGetValue(MediaTypeNames.Application.Octet, out var rawIn))
            rawIn.Schema = Binary("Raw little-endian float32 values, row-major; the shape is given in the query string.");

        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (response is not OpenApiResponse concrete) continue;
            if (status == "201") AddHeader(concrete, "Location", "The new session's URL (/sessions/{id}).", JsonSchemaType.String);
            if (status is "507" or "503" or "429") AddHeader(concrete, "Retry-After", "Seconds to wait before retrying.", JsonSchemaType.Integer);
            if (concrete.Content is not { } content) continue;
            if (IsAttentionResult(context, status) && content.TryGetValue(MediaTypeNames.Application.Json, out var json))
                json.Schema = AttentionResultReference(context);
            if (content.TryGetValue(MediaTypeNames.Application.Octet, out var rawOut))
            {
                rawOut.Schema = Binary("Raw little-endian float32: output [n, d_q], then attention [heads, n, m] when asked " +
                    "(shapes in the X-Output-Shape and X-Attention-Shape headers).");
                AddHeader(concrete, NegotiatedAttentionResult.OutputShapeHeader,
                    "Raw float32 responses: the output's shape, \"n,d_q\".", JsonSchemaType.String);
                AddHeader(concrete, NegotiatedAttentionResult.AttentionShapeHeader,
                    "Raw float32 responses with returnAttention: the attention's shape, \"heads,n,m\".", JsonSchemaType.String);
            }
        }
    }

    private static bool IsAttentionResult(OperationFilterContext context, string status) =>
        context.ApiDescription.SupportedResponseTypes.Any(r => r.Type == typeof(AttentionResult) && r.StatusCode.ToString() == status);

    private static OpenApiSchemaReference AttentionResultReference(OperationFilterContext context)
    {
        if (!context.SchemaRepository.Schemas.ContainsKey(AttentionResultSchema))
            context.SchemaRepository.AddDefinition(AttentionResultSchema, new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "A decode step's result.",
                Required = new HashSet<string> { "output" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["output"] = Array(Array(Number()), "[n, d_q]: the layer's output for each query row."),
                    ["attention"] = Array(Array(Array(Number())),
                        "[heads, n, m]: softmax weights of each query over the m source positions (0 at padding); only when returnAttention is true."),
                },
            });
        return new OpenApiSchemaReference(AttentionResultSchema, context.Document);
    }

    private static void AddHeader(OpenApiResponse response, string name, string description, JsonSchemaType type)
    {
        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = type } };
    }

    private static OpenApiSchema Binary(string description) =>
        new() { Type = JsonSchemaType.String, Format = "binary", Description = description };

    private static OpenApiSchema Array(IOpenApiSchema items, string? description = null) =>
        new() { Type = JsonSchemaType.Array, Items = items, Description = description };

    private static OpenApiSchema Number() => new() { Type = JsonSchemaType.Number, Format = "float" };
}
