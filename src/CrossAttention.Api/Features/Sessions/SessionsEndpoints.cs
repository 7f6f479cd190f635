using System.Globalization;
using System.Net.Mime;
using System.Security.Claims;
using CrossAttention.Api.Auth;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Extensions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Services;
using CrossAttention.Api.Observability;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.Sessions;

/// <summary>POST /encode and the session resource (its decode steps are in DecodeStepsEndpoints).</summary>
public static class SessionsEndpoints
{
    /// <summary>Seconds a client is told to wait after a 507: long enough for TTLs or deletes to free room.</summary>
    internal const int RetryAfterSeconds = 5;

    public static RouteGroupBuilder MapSessions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Sessions");

        group.MapPost("/encode", EncodeAsync)
            .RequireRateLimiting(PressureSetup.ExpensivePolicy)
            .NegotiatesBody<EncodeParameters, EncodeRequest>()
            .WithName("Encode")
            .WithSummary("Encode a source once: K and V of every decoder layer, kept as a session")
            .WithDescription("K = S·Wkᵀ + bk and V = S·Wvᵀ + bv for each layer, cached in memory under a new session id. " +
                "JSON body, or raw little-endian float32 rows with Content-Type application/octet-stream and " +
                "?model=&rows= (optional &sourceMask=1,1,0, &ttlSeconds= and &kvDtype=).")
            .Accepts<EncodeRequest>(MediaTypeNames.Application.Json, MediaTypeNames.Application.Octet)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);

        group.MapPut("/sessions/{id}", PutAsync)
            .RequireRateLimiting(PressureSetup.ExpensivePolicy)
            .NegotiatesBody<EncodeParameters, EncodeRequest>()
            .WithName("PutSession")
            .WithSummary("Encode a source under a session id the client chose (so a proxy can route the encode by id)")
            .WithDescription("Same body and raw form as POST /encode. The id must be 16 to 128 URL-safe characters " +
                "([A-Za-z0-9_-]) that look random: " + SessionIds.Rule + " 409 if a live session of the same API key already has "+
                "this id (ids are per key: another key's session with it is never touched).")
            .Accepts<EncodeRequest>(MediaTypeNames.Application.Json, MediaTypeNames.Application.Octet)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);

        group.MapGet("/sessions/{id}", GetAsync)
            .WithName("GetSession")
            .WithSummary("A session's model, source length, K/V bytes and expiry");

        group.MapDelete("/sessions/{id}", DeleteAsync)
            .WithName("DeleteSession")
            .WithSummary("End a session and free its K/V");

        group.MapAlignment();
        return group;
    }

    internal static Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> EncodeAsync(
        [AsParameters] EncodeParameters parameters) =>
        CreateSessionAsync(SessionIds.New(), parameters);

    internal static async Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> PutAsync(
        string id, [AsParameters] EncodeParameters parameters)
    {
        if (!SessionIds.IsWellFormed(id)) return Problems.Invalid("id", SessionIds.Rule);
        return await CreateSessionAsync(id, parameters);
    }

    private static async Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> CreateSessionAsync(
        string id, EncodeParameters parameters)
    {
        var (body, store, settings) = (parameters.Body, parameters.Store, parameters.Options.Value);
        if (string.IsNullOrEmpty(body.Model))
            return Problems.Invalid("model", "is required.");
        if (!parameters.Catalog.TryFind(body.Model, out var model, out var missing)) return missing;

        var check = new RequestValidation(settings.Limits);
        check.Source(body.Source, model);
        check.Ttl(body.TtlSeconds, settings.Cache);
        var elementType = check.KvDtype(body.KvDtype, settings.Cache);
        byte[]? mask = check.IsValid ? check.Mask(body.SourceMask, body.Source!.Rows) : null;
        if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

        // The exact bytes are reserved before any compute is spent: a refused encode costs nothing and allocates nothing.
        var key = parameters.Request.HttpContext.User.SessionKey(id);
        int rows = body.Source!.Rows;
        long recordBytes = AttentionRecording.RecordBytes(body.RecordAttention, model, rows, settings.Limits);
        long needed = model.EncodedBytes(rows, elementType) + recordBytes;
        using var reservation = await store.ReserveAsync(key, needed, parameters.CancellationToken);
        if (reservation.Refusal is { } refused)
        {
            Telemetry(parameters.Request)?.Refused(refused, model.Name, needed, SessionOwner.Of(parameters.Request.HttpContext.User));
            return Refusal(refused, id, parameters.Request.HttpContext.Response, needed, store.Usage);
        }

        var recorder = AttentionRecording.CreateRecorder(body.RecordAttention, model, rows, mask, settings.Limits);
        var encoded = await CrossAttentionCompute.EncodeAsync(parameters.Gate, parameters.Pool, model, body.Source, mask, elementType,
            parameters.CancellationToken);
        if (OutOfRange(encoded) is { } outOfRange)
        {
            encoded.Dispose();
            return outOfRange;
        }
        var ttl = TimeSpan.FromSeconds(body.TtlSeconds ?? settings.Cache.DefaultTtlSeconds);
        var session = new SessionEntry(key, model, encoded, parameters.Time.GetUtcNow(), ttl, TimeSpan.FromSeconds(settings.Cache.MaxTtlSeconds), recorder);
        var added = await store.AddAsync(session, reservation, parameters.CancellationToken);
        if (added != SessionAddResult.Stored)
        {
            encoded.Dispose();
            return Refusal(added, id, parameters.Request.HttpContext.Response, session.KvBytes, store.Usage);
        }
        return TypedResults.Created($"/sessions/{session.Id}", ToContract(session));
    }

    private static ProblemHttpResult Refusal(SessionAddResult refusal, string id, HttpResponse response, long needed, SessionStoreUsage usage) =>
        refusal switch
        {
            SessionAddResult.AlreadyExists => Problems.Create(StatusCodes.Status409Conflict, "Session exists",
                $"A live session already has the id '{id}'; choose another id (128 random bits)."),
            SessionAddResult.LargerThanCapacity => Problems.Create(StatusCodes.Status507InsufficientStorage, "Session larger than the cache",
                $"This session needs {needed} bytes of K/V, more than the whole cache ({usage.LimitBytes} bytes, " +
                "Cache:SizeLimitBytes): it can never be stored here. Send a shorter source or raise the limit."),
            _ => InsufficientStorage(response, needed, usage),
        };

    internal static async Task<Results<Ok<Session>, NotFoundProblem>> GetAsync(string id, ClaimsPrincipal user, ISessionStore store,
        CancellationToken cancellationToken) =>
        await store.GetAsync(user.SessionKey(id), cancellationToken) is { } session ? TypedResults.Ok(ToContract(session)) : SessionNotFound(id);

    internal static async Task<Results<NoContent, NotFoundProblem>> DeleteAsync(string id, ClaimsPrincipal user, ISessionStore store,
        CancellationToken cancellationToken) =>
        await store.RemoveAsync(user.SessionKey(id), cancellationToken) ? TypedResults.NoContent() : SessionNotFound(id);

    // Finite K/V that overflow a 16-bit type would become ±Inf, and the decode step NaN: refused, never clamped.
    // float32 K/V of a finite source are not scanned (the production path takes no extra pass).
    private static ValidationProblem? OutOfRange(EncodedSource encoded)
    {
        if (encoded.ElementType == KeyValueElementType.Float32) return null;
        int layer = encoded.FirstLayerWithNonFiniteValues();
        return layer < 0 ? null : Problems.Invalid("source",
            $"K or V of layer {layer} exceed the range of kvDtype {encoded.ElementType.Name()} (±65504 for float16); " +
            "send kvDtype bfloat16 or float32 for this source.");
    }

    internal static SessionTelemetry? Telemetry(HttpRequest request) => request.HttpContext.RequestServices.GetService<SessionTelemetry>();

    internal static Session ToContract(SessionEntry s) =>
        new(s.Id, s.ModelName, s.Encoded.Layers.Count, s.Encoded.SourceLength, s.KvBytes, s.CreatedAt, s.ExpiresAt,
            s.Encoded.ElementType.Name());

    internal static NotFoundProblem SessionNotFound(string id) =>
        Problems.NotFound("Session not found", $"No session '{id}': it never existed, was deleted, or expired.");

    private static ProblemHttpResult SessionExists(string id) => Problems.Create(StatusCodes.Status409Conflict, "Session exists",
        $"A live session already has the id '{id}'; choose another id (128 random bits).");

    private static ProblemHttpResult InsufficientStorage(HttpResponse response, long needed, SessionStoreUsage usage)
    {
        response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status507InsufficientStorage, "Session cache full",
            $"This session needs {needed} bytes of K/V; the cache holds {usage.Bytes} of {usage.LimitBytes} bytes " +
            $"(Cache:SizeLimitBytes). Delete finished sessions or retry later.",
            new Dictionary<string, object?> { ["retryAfterSeconds"] = RetryAfterSeconds });
    }
}
