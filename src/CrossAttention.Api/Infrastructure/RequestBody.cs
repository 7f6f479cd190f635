using System.Buffers;
using System.IO.Pipelines;
using System.Net.Mime;
using System.Text.Json;
using CrossAttention.Api.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Reads request bodies into pooled buffers, bounded by Limits:MaxRequestBytes, and turns every way a body can be
/// wrong into a problem result (400 malformed, 413 too large, 415 wrong content type) instead of an exception.
/// </summary>
internal static class RequestBody
{
    public static bool IsJson(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type) &&
        (type.MediaType.Equals(MediaTypeNames.Application.Json, StringComparison.OrdinalIgnoreCase) ||
         type.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    public static bool IsOctetStream(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type) &&
        type.MediaType.Equals(MediaTypeNames.Application.Octet, StringComparison.OrdinalIgnoreCase);

    public static ProblemHttpResult UnsupportedMediaType(HttpRequest request, bool binaryAllowed) => Problems.Create(
        StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
        $"Content-Type '{request.ContentType ?? "(none)"}' is not accepted here; send {MediaTypeNames.Application.Json}" +
        (binaryAllowed ? $", or {MediaTypeNames.Application.Octet} (raw little-endian float32) with the shape in the query string." : "."));

    /// <summary>Deserializes a JSON body; the error result is set instead when the body is too large or malformed.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Error)> ReadJsonAsync<T>(HttpRequest request, long maxBytes,
        JsonSerializerOptions options, CancellationToken cancellationToken) where T : class
    {
        var (buffer, length, error) = await ReadBytesAsync(request, maxBytes, cancellationToken);
        if (error is not null) return (null, error);
        try
        {
            var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), options);
            return value is null
                ? (null, Problems.Create(StatusCodes.Status400BadRequest, "Malformed JSON", "The body must be a JSON object."))
                : (value, null);
        }
        catch (JsonException e)
        {
            return (null, Problems.Create(StatusCodes.Status400BadRequest, "Malformed JSON", MalformedDetail(e)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a raw float32 body of <paramref name="rows"/> rows; the row width is what the body holds (the caller
    /// checks it against the model, like a JSON matrix's).
    /// </summary>
    public static async Task<(FloatMatrix? Value, ProblemHttpResult? Error)> ReadFloat32Async(HttpRequest request, int rows,
        long maxBytes, string field, CancellationToken cancellationToken)
    {
        if (!BitConverter.IsLittleEndian)
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "Raw float32 needs a little-endian host."));
        var (buffer, length, error) = await ReadBytesAsync(request, maxBytes, cancellationToken);
        if (error is not null) return (null, error);
        long rowBytes = (long)rows * sizeof(float);
        if (length % rowBytes != 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, Problems.Validation(field,
                $"the body has {length} bytes, which is not {rows} rows of float32 values (a multiple of {rowBytes} bytes)."));
        }
        return (FloatMatrix.FromRented(buffer, rows, (int)(length / rowBytes)), null);
    }

    private static async Task<(byte[] Buffer, int Length, ProblemHttpResult? Error)> ReadBytesAsync(HttpRequest request,
        long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes) return (Array.Empty<byte>(), 0, TooLarge(maxBytes));
        // Our own bound is checked below; lift the server's default one to it so the two never disagree.
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            sizeLimit.MaxRequestBodySize = maxBytes + 1;
        int initial = (int)Math.Min(request.ContentLength ?? 16 * 1024, maxBytes);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initial, 256));
        int length = 0;
        PipeReader reader = request.BodyReader;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken);
                var data = result.Buffer;
                if (length + data.Length > maxBytes)
                {
                    reader.AdvanceTo(data.End);
                    ArrayPool<byte>.Shared.Return(buffer);
                    return (Array.Empty<byte>(), 0, TooLarge(maxBytes));
                }
                if (length + data.Length > buffer.Length)
                {
                    byte[] bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(buffer.Length * 2L, length + data.Length), maxBytes));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                data.CopyTo(buffer.AsSpan(length));
                length += (int)data.Length;
                reader.AdvanceTo(data.End);
                if (result.IsCompleted) break;
            }
            return (buffer, length, null);
        }
        catch (BadHttpRequestException e)
        {
            // The server's own limit or a broken upload; the client is told which.
            ArrayPool<byte>.Shared.Return(buffer);
            return (Array.Empty<byte>(), 0, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxBytes)
                : Problems.Create(e.StatusCode, "Bad request body", e.Message));
        }
    }

    private static ProblemHttpResult TooLarge(long maxBytes) => Problems.Create(StatusCodes.Status413PayloadTooLarge,
        "Request body too large", $"The body exceeds Limits:MaxRequestBytes ({maxBytes} bytes).");

    private static string MalformedDetail(JsonException e)
    {
        string where = e.Path is { Length: > 0 } path ? $" at {path}" : "";
        string line = e.LineNumber is long l ? $" (line {l + 1}, byte {e.BytePositionInLine + 1})" : "";
        // System.Text.Json's own messages name .NET types; the first sentence is the useful part.
        string message = e.Message.Split(". Path:", 2)[0];
        return $"The body is not valid JSON for this endpoint{where}{line}: {message}";
    }
}
