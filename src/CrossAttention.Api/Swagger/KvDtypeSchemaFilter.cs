using System.Text.Json.Nodes;
using CrossAttention.Api.Contracts;
using CrossAttention.Core.Kernels;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// Documents <c>kvDtype</c> as the enum it is. It is bound as a string (not a C# enum) so an unknown value is a 400
/// naming the field, not a JSON error.
/// </summary>
internal sealed class KvDtypeSchemaFilter : ISchemaFilter
{
    private const string Property = "kvDtype";

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (context.Type != typeof(EncodeRequest) && context.Type != typeof(Session)) return;
        if (schema.Properties?.TryGetValue(Property, out var property) != true || property is not OpenApiSchema kvDtype) return;
        kvDtype.Enum = [.. KeyValueElementTypes.Names.Select(name => (JsonNode)JsonValue.Create(name))];
    }
}
