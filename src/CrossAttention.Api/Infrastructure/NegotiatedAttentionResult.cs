using System.Buffers;
using System.Runtime.InteropServices;
using CrossAttention.Api.Contracts;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// A decode result as raw little-endian float32: output [n, d_q], then (when asked) attention [heads, n, m].
/// The shapes travel in headers.
/// </summary>
public sealed class RawFloat32Result(AttentionResult result) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    public int? StatusCode => StatusCodes.Status200OK;
    public string ContentType => RequestBody.OctetStream;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers["X-Output-Shape"] = $"{result.Queries},{result.QueryDim}";
        long length = result.Output.Length;
        if (result.Attention is { } attention)
        {
            response.Headers["X-Attention-Shape"] = $"{result.Heads},{result.Queries},{result.SourceLength}";
            length += attention.Length;
        }
        response.ContentLength = length * sizeof(float);
        var writer = response.BodyWriter;
        writer.Write(MemoryMarshal.AsBytes(result.Output.AsSpan()));
        if (result.Attention is { } weights) writer.Write(MemoryMarshal.AsBytes(weights.AsSpan()));
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}
