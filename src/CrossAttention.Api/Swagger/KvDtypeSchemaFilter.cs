using System.Text.Json.Nodes;
using CrossAttention.Api.Contracts;
using CrossAttention.Core.Kernels;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// Documents <c>kvDtype</c> (and a model's <c>weightsDtype</c>) as the enum it is. It is bound as a string (not a C#
/// enum) so an unknown value is a 400 naming the field, not a JSON error.
/// </summary>
internal sealed class KvDtypeSchemaFilter : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        string? name = context.Type == typeof(EncodeRequest) || context.Type == typeof(Session) ? "kvDtype"
            : context.Type == typeof(ModelInfo) ? "weightsDtype"
            : null;
        if (name is null || schema.Properties?.TryGetValue(name, out var property) != true || property is not OpenApiSchema dtype) return;
        dtype.Enum = [.. KeyValueElementTypes.Names.Select(value => (JsonNode)JsonValue.Create(value))];
    }
}
