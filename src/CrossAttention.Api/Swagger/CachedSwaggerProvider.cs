using System.Collections.Concurrent;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// The OpenAPI document, generated once per process: the same bytes on every fetch (so a client's "is my generated
/// code up to date" check is stable), and no generation work per request. A failed generation is not remembered.
/// </summary>
public sealed class CachedSwaggerProvider(SwaggerGenerator generator) : ISwaggerProvider, IAsyncSwaggerProvider
{
    private readonly ConcurrentDictionary<(string, string?, string?), Lazy<OpenApiDocument>> _documents = new();

    public OpenApiDocument GetSwagger(string documentName, string? host = null, string? basePath = null) =>
        _documents.GetOrAdd((documentName, host, basePath), key => new Lazy<OpenApiDocument>(
            () => generator.GetSwagger(key.Item1, key.Item2, key.Item3), LazyThreadSafetyMode.PublicationOnly)).Value;

    public Task<OpenApiDocument> GetSwaggerAsync(string documentName, string? host = null, string? basePath = null) =>
        Task.FromResult(GetSwagger(documentName, host, basePath));
}
