using CrossAttention.Api.Auth;
using CrossAttention.Api.Observability;
using CrossAttention.Core.Scheduling;
using CrossAttention.Core.Sessions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// Turns what escapes a handler into problem+json: a request the framework could not bind (bad query value, broken
/// upload) keeps its 4xx status and says why; out of memory and a full in-flight budget are 503 with Retry-After; a
/// stored session whose snapshot is refused is 404 (503 for a newer format version) and logged; anything else is logged
/// and answered 500 without internals.
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
            SessionSnapshotException refused => StoredSessionProblem(refused),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", "The request could not be completed; it has been logged."),
        };
        if (exception is SessionSnapshotException refusedSnapshot) LogRefusedSnapshot(httpContext, refusedSnapshot, status);
        else if (status == StatusCodes.Status503ServiceUnavailable && exception is not (ServerBusyException or ComputeQueueFullException))
        {
            allocations.RecordFailure();
            LogOutOfMemory(exception, httpContext.Request.Method, RouteOf(httpContext));
        }
        else if (status >= 500) LogUnhandled(exception, httpContext.Request.Method, RouteOf(httpContext));
        if (status == StatusCodes.Status503ServiceUnavailable)
            httpContext.Response.Headers.RetryAfter = ServerBusyException.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
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

    /// <summary>
    /// A store could not load a stored session (a shared tier's snapshot was refused). That is the server's fault, not
    /// the request's, but the client can do one useful thing about it: a session that cannot be loaded from what is
    /// stored is lost, so it gets the 404 of an ended session and encodes its source again (a 500 or a 503 would have it
    /// retry a blob that stays damaged). The one exception is a newer format version, written by a newer replica during
    /// a rolling upgrade: another replica, or this one upgraded, can read it, so 503 with Retry-After.
    /// </summary>
    private static (int Status, string Title, string Detail) StoredSessionProblem(SessionSnapshotException refused)
    {
        string session = refused.SessionId is { } id ? $"session '{id}'" : "the session";
        return refused.Problem switch
        {
            SessionSnapshotProblem.Expired => (StatusCodes.Status404NotFound, "Session not found", $"No {session}: it expired."),
            SessionSnapshotProblem.UnsupportedVersion => (StatusCodes.Status503ServiceUnavailable, "Session unavailable",
                $"The stored {session} was written by a newer version of this service than this replica runs. Retry shortly."),
            _ => (StatusCodes.Status404NotFound, "Session could not be loaded",
                $"The stored {session} could not be loaded and is lost; the server has logged why. Encode the source again."),
        };
    }

    // The session by the fingerprint the session log lines use, and the route rather than the path: both keep the id
    // out of the log. The exception's message carries the reason only.
    private void LogRefusedSnapshot(HttpContext httpContext, SessionSnapshotException refused, int status)
    {
        var level = refused.Problem switch
        {
            SessionSnapshotProblem.Expired => LogLevel.Information,          // the ordinary end of a session
            SessionSnapshotProblem.UnsupportedVersion => LogLevel.Warning,   // expected while an upgrade rolls out
            _ => LogLevel.Error,                                             // damaged, foreign or misconfigured: lost
        };
        string owner = SessionOwner.Of(httpContext.User);
        LogRefusedSnapshot(level, refused, refused.SessionId is { } id ? SessionTelemetry.Fingerprint(id) : "-", refused.Problem,
            httpContext.Request.Method, RouteOf(httpContext), string.IsNullOrEmpty(owner) ? "-" : owner, status);
    }

    // The route pattern, never the path: a path holds the session id, all it takes to use a session without API keys.
    // It comes from the exception feature: the middleware has cleared the request's endpoint by now.
    private static string RouteOf(HttpContext httpContext) =>
        (httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "-";

    [LoggerMessage(Message = "Stored session {Session} could not be loaded ({Problem}) in {Method} {Route}, owner {Owner}; answered {Status}")]
    private partial void LogRefusedSnapshot(LogLevel level, Exception exception, string session, SessionSnapshotProblem problem,
        string method, string route, string owner, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Out of memory in {Method} {Route}; answered 503")]
    private partial void LogOutOfMemory(Exception exception, string method, string route);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Route}")]
    private partial void LogUnhandled(Exception exception, string method, string route);
}
