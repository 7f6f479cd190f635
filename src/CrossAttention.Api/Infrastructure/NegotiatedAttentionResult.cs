using System.Buffers;
using System.Net.Mime;
using System.Reflection;
using System.Runtime.InteropServices;
using CrossAttention.Api.Contracts;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// A decode result in the form the client's Accept header asks for: JSON, or raw little-endian float32 (output
/// [n, d_q], then attention [heads, n, m] when asked, shapes in headers). The one place responses are negotiated.
/// </summary>
public sealed class NegotiatedAttentionResult(AttentionResult result) : IResult, IStatusCodeHttpResult, IValueHttpResult<AttentionResult>,
    IEndpointMetadataProvider
{
    public const string OutputShapeHeader = "X-Output-Shape";
    public const string AttentionShapeHeader = "X-Attention-Shape";

    public AttentionResult Value => result;
    public int? StatusCode => StatusCodes.Status200OK;

    public Task ExecuteAsync(HttpContext httpContext) =>
        WantsRawFloat32(httpContext.Request) ? WriteRawAsync(httpContext) : TypedResults.Ok(result).ExecuteAsync(httpContext);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(AttentionResult),
            [MediaTypeNames.Application.Json, MediaTypeNames.Application.Octet]));

    /// <summary>True when the client asked for raw float32 and not for JSON.</summary>
    internal static bool WantsRawFloat32(HttpRequest request)
    {
        bool binary = false, json = false;
        foreach (var type in request.GetTypedHeaders().Accept)
        {
            if (type.Quality is 0) continue;
            if (type.MediaType.Equals(MediaTypeNames.Application.Octet, StringComparison.OrdinalIgnoreCase)) binary = true;
            else if (type.MediaType.Equals(MediaTypeNames.Application.Json, StringComparison.OrdinalIgnoreCase)) json = true;
        }
        return binary && !json;
    }

    private async Task WriteRawAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = MediaTypeNames.Application.Octet;
        response.Headers[OutputShapeHeader] = $"{result.Queries},{result.QueryDim}";
        long length = result.Output.Length;
        if (result.Attention is { } attention)
        {
            response.Headers[AttentionShapeHeader] = $"{result.Heads},{result.Queries},{result.SourceLength}";
            length += attention.Length;
        }
        response.ContentLength = length * sizeof(float);
        var writer = response.BodyWriter;
        writer.Write(MemoryMarshal.AsBytes(result.Output.AsSpan()));
        if (result.Attention is { } weights) writer.Write(MemoryMarshal.AsBytes(weights.AsSpan()));
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}
