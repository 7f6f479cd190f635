using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Turns what escapes a handler into problem+json: a request the framework could not bind (bad query value, broken
/// upload) keeps its 4xx status and says why; anything else is logged and answered 500 without internals.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested =>
                (StatusCodes.Status499ClientClosedRequest, "Client closed request", "The client went away."),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", "The request could not be completed; it has been logged."),
        };
        if (status >= 500) LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
