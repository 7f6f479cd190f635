using System.Reflection;
using CrossAttention.Api.Contracts;
using Microsoft.OpenApi;

namespace CrossAttention.Api.Swagger;

public static class SwaggerSetup
{
    public static IServiceCollection AddCrossAttentionSwagger(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(c =>
        {
            c.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "CrossAttention.Api",
                Version = "v1",
                Description = "Cross-attention of encoder-decoder transformers as a service. POST /encode a source once " +
                    "(K and V of every decoder layer are cached as a session), then POST a decode step per generated token: " +
                    "the target's n queries attend to the m cached source positions (an n × m attention matrix per head).",
            });
            string xml = Path.Combine(AppContext.BaseDirectory, $"{Assembly.GetExecutingAssembly().GetName().Name}.xml");
            if (File.Exists(xml)) c.IncludeXmlComments(xml);
            c.MapType<FloatMatrix>(() => Array(Array(Number())));
            c.MapType<AttentionResult>(() => new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { "output" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["output"] = WithDescription(Array(Array(Number())), "[n, d_q]: the layer's output for each query row."),
                    ["attention"] = WithDescription(Array(Array(Array(Number()))),
                        "[heads, n, m]: softmax weights of each query over the m source positions (0 at padding); only when returnAttention is true."),
                },
            });
            c.OperationFilter<ExamplesOperationFilter>();
        });
        return services;
    }

    public static WebApplication UseCrossAttentionSwagger(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/swagger/v1/swagger.json", "CrossAttention.Api v1");
            o.DocumentTitle = "CrossAttention.Api";
        });
        return app;
    }

    private static OpenApiSchema Array(IOpenApiSchema items) => new() { Type = JsonSchemaType.Array, Items = items };

    private static OpenApiSchema Number() => new() { Type = JsonSchemaType.Number, Format = "float" };

    private static OpenApiSchema WithDescription(OpenApiSchema schema, string description)
    {
        schema.Description = description;
        return schema;
    }
}
