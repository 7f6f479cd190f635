using System.Reflection;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Options;
using CrossAttention.Api.Swagger;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Extensions;

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
            // Non-nullable members (Session.sessionId, ModelInfo.name, …) are documented as required and never null.
            c.SupportNonNullableReferenceTypes();
            c.NonNullableReferenceTypesAsRequired();
            c.MapType<FloatMatrix>(() => new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Items = new OpenApiSchema { Type = JsonSchemaType.Number, Format = "float" },
                },
            });
            c.OperationFilter<RefusalResponsesOperationFilter>();
            c.OperationFilter<HttpShapeOperationFilter>();
            c.OperationFilter<ExamplesOperationFilter>();
            c.SchemaFilter<KvDtypeSchemaFilter>();
        });
        services.TryAddTransient<SwaggerGenerator>();
        services.AddSingleton(sp => new CachedSwaggerProvider(sp.GetRequiredService<SwaggerGenerator>()));
        services.Replace(ServiceDescriptor.Singleton<ISwaggerProvider>(sp => sp.GetRequiredService<CachedSwaggerProvider>()));
        services.Replace(ServiceDescriptor.Singleton<IAsyncSwaggerProvider>(sp => sp.GetRequiredService<CachedSwaggerProvider>()));
        return services;
    }

    /// <summary>Serves the document and Swagger UI unless CrossAttention:Swagger:Enabled is false.</summary>
    public static WebApplication UseCrossAttentionSwagger(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Swagger.Enabled) return app;
        app.UseSwagger();
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/swagger/v1/swagger.json", "CrossAttention.Api v1");
            o.DocumentTitle = "CrossAttention.Api";
        });
        return app;
    }
}
