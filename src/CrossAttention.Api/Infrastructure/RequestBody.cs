using System.Buffers;
using System.IO.Pipelines;
using System.Net.Mime;
using System.Text.Json;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
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

    /// <summary>
    /// Deserializes a JSON body, checking <paramref name="limits"/> as it parses; the error result is set instead when
    /// the body is too large, too slow, breaks a limit or is malformed. <paramref name="beforeParse"/> runs once the
    /// bytes have arrived, before they are parsed (a compute permit is taken there).
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Error)> ReadJsonAsync<T>(HttpRequest request, long maxBytes,
        JsonSerializerOptions options, JsonReadLimits limits, Func<CancellationToken, ValueTask>? beforeParse,
        CancellationToken cancellationToken) where T : class
    {
        var (buffer, length, error) = await ReadBytesAsync(request, maxBytes, cancellationToken);
        if (error is not null) return (null, error);
        try
        {
            if (beforeParse is not null) await beforeParse(cancellationToken);
            var value = limits.Deserialize<T>(buffer.AsSpan(0, length), options);
            return value is null
                ? (null, Problems.Create(StatusCodes.Status400BadRequest, "Malformed JSON", "The body must be a JSON object."))
                : (value, null);
        }
        catch (BodyLimitException e)
        {
            string field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";
            return (null, Problems.Validation(field, e.Message.Split(" Path:", 2)[0]));
        }
        catch (JsonException e)
        {
            return (null, Problems.Create(StatusCodes.Status400BadRequest, "Malformed JSON", MalformedDetail(e)));
        }
        finally
        {
            RequestBuffers.Return(buffer, InFlightReservation.For(request.HttpContext));
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
            RequestBuffers.Return(buffer, InFlightReservation.For(request.HttpContext));
            return (null, Problems.Validation(field,
                $"the body has {length} bytes, which is not {rows} rows of float32 values (a multiple of {rowBytes} bytes)."));
        }
        // The buffer becomes the matrix; its reservation is released with the request's.
        return (FloatMatrix.FromRented(buffer, rows, (int)(length / rowBytes)), null);
    }

    /// <summary>Bytes a body buffer starts with when it declares more: it grows as data arrives, never ahead of it.</summary>
    private const int InitialBufferBytes = 64 * 1024;

    /// <summary>
    /// Reads the whole body into one buffer that grows (doubling, up to the declared length) as bytes arrive, each size
    /// reserved against the in-flight budget before it is allocated, within Limits:RequestBodyTimeoutSeconds.
    /// </summary>
    private static async Task<(byte[] Buffer, int Length, ProblemHttpResult? Error)> ReadBytesAsync(HttpRequest request,
        long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes) return (Array.Empty<byte>(), 0, TooLarge(maxBytes));
        // Our own bound is checked below. Kestrel's freezes at the first read, so it is set to what a refusal may still
        // drain afterwards (a chunked body over our bound then hears its 413 instead of a reset).
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            sizeLimit.MaxRequestBodySize = Math.Max(maxBytes + 1, RefusedBodyDrainMiddleware.LimitBytes(
                request.HttpContext.RequestServices.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Limits));
        var services = request.HttpContext.RequestServices;
        if (TryTakeWholeBody(request, maxBytes) is { } whole) return whole;
        var timeout = TimeSpan.FromSeconds(services.GetRequiredService<IOptions<CrossAttentionOptions>>().Value.Limits.RequestBodyTimeoutSeconds);
        using var deadline = new CancellationTokenSource(timeout, services.GetRequiredService<TimeProvider>());
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var reservation = InFlightReservation.For(request.HttpContext);

        long expected = Math.Min(request.ContentLength ?? maxBytes, maxBytes);
        byte[] buffer = RequestBuffers.Rent((int)Math.Clamp(expected, 256, InitialBufferBytes), reservation, "reading the body");
        int length = 0;
        PipeReader reader = request.BodyReader;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(reading.Token);
                var data = result.Buffer;
                try
                {
                    if (length + data.Length > maxBytes)
                    {
                        RequestBuffers.Return(buffer, reservation);
                        return (Array.Empty<byte>(), 0, TooLarge(maxBytes));
                    }
                    if (length + data.Length > buffer.Length)
                    {
                        long wanted = Math.Max(Math.Min(buffer.Length * 2L, expected), length + data.Length);
                        byte[] bigger = RequestBuffers.Rent((int)Math.Min(wanted, maxBytes), reservation, "reading the body");
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        RequestBuffers.Return(buffer, reservation);
                        buffer = bigger;
                    }
                    data.CopyTo(buffer.AsSpan(length));
                    length += (int)data.Length;
                }
                finally
                {
                    // Also when the budget refuses a bigger buffer: a read left open would stop the rest of the body
                    // from being drained, and the refusal would reach the client as a reset connection.
                    reader.AdvanceTo(data.End);
                }
                if (result.IsCompleted) break;
            }
            return (buffer, length, null);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            RequestBuffers.Return(buffer, reservation);
            // The rest of the body is not worth waiting for: close the connection after the answer.
            request.HttpContext.Response.Headers.Connection = "close";
            return (Array.Empty<byte>(), 0, Problems.Create(StatusCodes.Status408RequestTimeout, "Request body timeout",
                $"The body did not arrive within Limits:RequestBodyTimeoutSeconds ({timeout.TotalSeconds:0} s); {length} bytes had."));
        }
        catch (BadHttpRequestException e)
        {
            RequestBuffers.Return(buffer, reservation);
            return (Array.Empty<byte>(), 0, BadBody(e, maxBytes));
        }
        catch
        {
            RequestBuffers.Return(buffer, reservation);
            throw;
        }
    }

    /// <summary>
    /// The body when all of it has already arrived (a decode step's queries usually come in with the headers): taken
    /// without arming the body timeout, whose timer and linked token would cost more than the rest of the read. Null
    /// when the body is still on its way (or too large): nothing is consumed, and the timed read above takes it all.
    /// </summary>
    private static (byte[] Buffer, int Length, ProblemHttpResult? Error)? TryTakeWholeBody(HttpRequest request, long maxBytes)
    {
        PipeReader reader = request.BodyReader;
        ReadResult ready;
        try
        {
            if (!reader.TryRead(out ready)) return null;
        }
        catch (BadHttpRequestException e)
        {
            return (Array.Empty<byte>(), 0, BadBody(e, maxBytes));
        }
        var data = ready.Buffer;
        if (!ready.IsCompleted || data.Length > maxBytes)
        {
            reader.AdvanceTo(data.Start);
            return null;
        }
        try
        {
            int length = (int)data.Length;
            byte[] buffer = RequestBuffers.Rent(Math.Max(length, 256), InFlightReservation.For(request.HttpContext), "reading the body");
            data.CopyTo(buffer);
            return (buffer, length, null);
        }
        finally
        {
            // Also when the budget refuses the buffer (see the timed read).
            reader.AdvanceTo(data.End);
        }
    }

    /// <summary>The server's own limit or a broken upload; the client is told which.</summary>
    private static ProblemHttpResult BadBody(BadHttpRequestException e, long maxBytes) =>
        e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(maxBytes) : Problems.Create(e.StatusCode, "Bad request body", e.Message);

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
