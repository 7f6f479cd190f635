using CrossAttention.Api.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Makes a refusal reach a client that is still sending its body. Refusals are decided before the body is read (401,
/// 413, 415, 429, 503 from the admission limit or the in-flight budget) or partway through it (400 at the first byte
/// that decides it); closing a socket with unread bytes in it resets the connection, and an uploading client then
/// reports a broken upload instead of the answer. So once the answer has been sent in full, the rest of the body is
/// read and thrown away, as nginx's lingering close and Kestrel's own draining (5 s, not configurable) do: nothing is
/// kept (the bytes never leave the server's own buffers), so it costs no in-flight budget and no permit; Kestrel's
/// minimum data rate still cuts a client that stalls. Bounded by <see cref="LimitBytes"/> (2 × Limits:MaxRequestBytes,
/// so a body just over the limit still hears its 413) and <see cref="DrainSeconds"/> (or Limits:RequestBodyTimeoutSeconds
/// if shorter); past either the connection is cut.
/// </summary>
internal sealed class RefusedBodyDrainMiddleware(RequestDelegate next, IOptions<CrossAttentionOptions> options, TimeProvider time)
{
    private readonly long _limitBytes = LimitBytes(options.Value.Limits);
    // Short, like nginx's lingering close (5 s): a refused client, unauthenticated or turned away at admission, must not
    // keep its connection for the whole body timeout by trickling.
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(Math.Min(DrainSeconds, options.Value.Limits.RequestBodyTimeoutSeconds));

    /// <summary>Most seconds spent discarding a refused body.</summary>
    public const int DrainSeconds = 10;

    /// <summary>Most body bytes discarded after a refusal.</summary>
    public static long LimitBytes(LimitsOptions limits) => 2 * limits.MaxRequestBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);
        if (context.Response.StatusCode < StatusCodes.Status400BadRequest || !MayHaveUnreadBody(context)) return;
        // The answer goes out whole first: curl stops sending when it sees an error status, and then reads the rest.
        await context.Response.CompleteAsync();
        if (!await DrainAsync(context)) context.Abort();
    }

    private static bool MayHaveUnreadBody(HttpContext context)
    {
        if (context.RequestAborted.IsCancellationRequested) return false;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }) return false;
        // A client waiting for "100 Continue" has not sent its body: reading now would ask it to.
        if (context.Request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase)) return false;
        // The service already chose to close this connection (a body that did not arrive in time).
        return !context.Response.Headers.Connection.ToString().Contains("close", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Reads the body to its end and discards it; false when it is larger or slower than the bounds allow.</summary>
    private async Task<bool> DrainAsync(HttpContext context)
    {
        if (context.Request.ContentLength > _limitBytes) return false;
        // Kestrel refuses bodies over its own limit on the first read; the bound here is ours.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
            sizeLimit.MaxRequestBodySize = _limitBytes;
        using var deadline = new CancellationTokenSource(_timeout, time);
        using var draining = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, deadline.Token);
        var reader = context.Request.BodyReader;
        long discarded = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(draining.Token);
                discarded += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) return true;
                if (discarded > _limitBytes) return false;
            }
        }
        catch (InvalidOperationException)
        {
            // The endpoint completed the reader: it read the body itself.
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or BadHttpRequestException or IOException)
        {
            return false;
        }
    }
}
