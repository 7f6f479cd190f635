using CrossAttention.Core.Scheduling;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Turns what escapes a handler into problem+json: a request the framework could not bind (bad query value, broken
/// upload) keeps its 4xx status and says why; out of memory and a full in-flight budget are 503 with Retry-After; anything else is logged and answered 500 without internals.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, AllocationHealth allocations,
    ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            // Out of memory is a moment's state of the process, not a fault of this request: say so, and let the
            // health checks tell the orchestrator if it persists. The request's buffers are already released.
            OutOfMemoryException or TypeInitializationException { InnerException: OutOfMemoryException } =>
                (StatusCodes.Status503ServiceUnavailable, "Out of memory", "The server could not allocate memory for this request. Retry shortly."),
            ServerBusyException busy => (StatusCodes.Status503ServiceUnavailable, "Server busy", busy.Message),
            ComputeQueueFullException full => (StatusCodes.Status503ServiceUnavailable, "Server busy",
                full.Message + " (Batching:MaxQueuedSteps)"),
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested =>
                (StatusCodes.Status499ClientClosedRequest, "Client closed request", "The client went away."),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", "The request could not be completed; it has been logged."),
        };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            if (exception is not (ServerBusyException or ComputeQueueFullException))
            {
                allocations.RecordFailure();
                LogOutOfMemory(exception, httpContext.Request.Method, httpContext.Request.Path);
            }
            httpContext.Response.Headers.RetryAfter = ServerBusyException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (status >= 500) LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);
        httpContext.Response.StatusCode = status;
        if (await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        })) return true;
        // The problem writer declines when Accept names only application/octet-stream; the client still gets problem+json.
        await TypedResults.Problem(detail, statusCode: status, title: title).ExecuteAsync(httpContext);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Out of memory in {Method} {Path}; answered 503")]
    private partial void LogOutOfMemory(Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
