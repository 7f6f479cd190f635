using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Models;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Features.Sessions;

/// <summary>POST /encode, the session resource, and its decode steps.</summary>
public static class SessionsEndpoints
{
    /// <summary>Seconds a client is told to wait after a 507: long enough for TTLs or deletes to free room.</summary>
    internal const int RetryAfterSeconds = 5;

    public static RouteGroupBuilder MapSessions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Sessions");

        group.MapPost("/encode", EncodeAsync)
            .WithName("Encode")
            .WithSummary("Encode a source once: K and V of every decoder layer, kept as a session")
            .WithDescription("K = S·Wkᵀ + bk and V = S·Wvᵀ + bv for each layer, cached in memory under a new session id. " +
                "JSON body, or raw little-endian float32 rows with Content-Type application/octet-stream and " +
                "?model=&rows= (optional &sourceMask=1,1,0 and &ttlSeconds=).")
            .Accepts<EncodeRequest>(RequestBody.Json, RequestBody.OctetStream)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);

        group.MapPut("/sessions/{id}", PutAsync)
            .WithName("PutSession")
            .WithSummary("Encode a source under a session id the client chose (so a proxy can route the encode by id)")
            .WithDescription("Same body and raw form as POST /encode. The id must be 16 to 128 URL-safe characters " +
                "([A-Za-z0-9_-]); use 128 random bits. 409 if a live session already has this id.")
            .Accepts<EncodeRequest>(RequestBody.Json, RequestBody.OctetStream)
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

        group.MapPost("/decode-step", DecodeStepAsync)
            .WithName("DecodeStep")
            .WithSummary("One decode step: the queries attend to a session's cached K/V of one layer")
            .WithDescription("softmax(scale·QKᵀ)V per head over the m source positions (padding weighs exactly 0), then the " +
                "output projection. Send Accept: application/octet-stream for raw float32 output.")
            .Accepts<DecodeStepRequest>(RequestBody.Json)
            .Produces<AttentionResult>(StatusCodes.Status200OK, RequestBody.Json, RequestBody.OctetStream)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        group.MapPost("/sessions/{id}/decode-step", SessionDecodeStepAsync)
            .WithName("SessionDecodeStep")
            .WithSummary("One decode step, session in the path (for session-affine routing)")
            .WithDescription("Same as POST /decode-step without sessionId in the body. Also takes raw little-endian float32 " +
                "queries with Content-Type application/octet-stream and ?layer=&rows= (optional &returnAttention=true).")
            .Accepts<DecodeStepRequest>(RequestBody.Json, RequestBody.OctetStream)
            .Produces<AttentionResult>(StatusCodes.Status200OK, RequestBody.Json, RequestBody.OctetStream)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        group.MapAlignment();
        return group;
    }

    internal static Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> EncodeAsync(
        HttpRequest request, string? model, int? rows, string? sourceMask, int? ttlSeconds, bool? recordAttention,
        ModelCatalog catalog, ISessionStore store, ComputeGate gate, TimeProvider time,
        IOptions<CrossAttentionOptions> options, IOptions<JsonOptions> json, CancellationToken cancellationToken) =>
        CreateSessionAsync(SessionIds.New(), request, model, rows, sourceMask, ttlSeconds, recordAttention, catalog, store, gate, time,
            options.Value, json.Value, cancellationToken);

    internal static async Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> PutAsync(
        string id, HttpRequest request, string? model, int? rows, string? sourceMask, int? ttlSeconds, bool? recordAttention,
        ModelCatalog catalog, ISessionStore store, ComputeGate gate, TimeProvider time,
        IOptions<CrossAttentionOptions> options, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (!SessionIds.IsWellFormed(id))
            return Problems.Invalid("id", "must be 16 to 128 characters of A-Z, a-z, 0-9, '-' and '_' (use 128 random bits, base64url).");
        return await CreateSessionAsync(id, request, model, rows, sourceMask, ttlSeconds, recordAttention, catalog, store, gate, time,
            options.Value, json.Value, cancellationToken);
    }

    private static async Task<Results<Created<Session>, ValidationProblem, NotFoundProblem, ProblemHttpResult>> CreateSessionAsync(
        string id, HttpRequest request, string? model, int? rows, string? sourceMask, int? ttlSeconds, bool? recordAttention,
        ModelCatalog catalog, ISessionStore store, ComputeGate gate, TimeProvider time,
        CrossAttentionOptions settings, JsonOptions json, CancellationToken cancellationToken)
    {
        EncodeRequest? body;
        if (RequestBody.IsJson(request))
        {
            var (value, error) = await RequestBody.ReadJsonAsync<EncodeRequest>(request, settings.Limits.MaxRequestBytes,
                json.SerializerOptions, cancellationToken);
            if (error is not null) return error;
            body = value!;
        }
        else if (RequestBody.IsOctetStream(request))
        {
            var query = new RequestValidation(settings.Limits);
            if (string.IsNullOrEmpty(model)) query.Add("model", "is required in the query string with a raw float32 body.");
            if (rows is not > 0) query.Add("rows", "is required in the query string with a raw float32 body: the source length m (≥ 1).");
            else if (rows > settings.Limits.MaxSourceLength)
                query.Add("rows", $"{rows} exceeds {settings.Limits.MaxSourceLength} (Limits:MaxSourceLength).");
            if (!query.IsValid) return TypedResults.ValidationProblem(query.Errors);
            if (!TryFindModel(catalog, model!, out var found, out var missing)) return missing;
            var (source, error) = await RequestBody.ReadFloat32Async(request, rows!.Value, found.SourceDim,
                settings.Limits.MaxRequestBytes, "source", cancellationToken);
            if (error is not null) return error;
            int[]? mask = null;
            if (sourceMask is not null && !TryParseMask(sourceMask, out mask))
            {
                source!.Dispose();
                return Problems.Invalid("sourceMask", "must be a comma-separated list of 1 (keep) and 0 (padding).");
            }
            body = new EncodeRequest
            {
                Model = model, Source = source, SourceMask = mask, TtlSeconds = ttlSeconds, RecordAttention = recordAttention ?? false,
            };
        }
        else
        {
            return RequestBody.UnsupportedMediaType(request, binaryAllowed: true);
        }

        using (body)
        {
            if (string.IsNullOrEmpty(body.Model))
                return Problems.Invalid("model", "is required.");
            if (!TryFindModel(catalog, body.Model, out var found, out var missing)) return missing;

            var check = new RequestValidation(settings.Limits);
            check.Source(body.Source, found);
            check.Ttl(body.TtlSeconds, settings.Cache);
            byte[]? maskBytes = check.IsValid ? check.Mask(body.SourceMask, body.Source!.Rows) : null;
            if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

            // A source whose K/V (and attention record) could never fit is refused before any work is spent on it.
            var recorder = AttentionRecording.CreateRecorder(body.RecordAttention, found, body.Source!.Rows, maskBytes, settings.Limits);
            long needed = found.KeyValueBytes(body.Source.Rows, maskBytes is not null) + (recorder?.Bytes ?? 0);
            if (needed > store.Usage.LimitBytes) return InsufficientStorage(request.HttpContext.Response, needed, store.Usage);

            var encoded = await CrossAttentionCompute.EncodeAsync(gate, found, body.Source, maskBytes, cancellationToken);
            var now = time.GetUtcNow();
            var ttl = TimeSpan.FromSeconds(body.TtlSeconds ?? settings.Cache.DefaultTtlSeconds);
            var session = new SessionEntry(id, found, encoded, now, ttl, TimeSpan.FromSeconds(settings.Cache.MaxTtlSeconds), recorder);
            var added = await store.AddAsync(session, cancellationToken);
            if (added != SessionAddResult.Stored) encoded.Dispose();
            switch (added)
            {
                case SessionAddResult.AlreadyExists:
                    return Problems.Create(StatusCodes.Status409Conflict, "Session exists",
                        $"A live session already has the id '{id}'; choose another id (128 random bits).");
                case SessionAddResult.InsufficientStorage:
                    return InsufficientStorage(request.HttpContext.Response, session.KvBytes, store.Usage);
            }
            return TypedResults.Created($"/sessions/{session.Id}", ToContract(session));
        }
    }

    internal static async Task<Results<Ok<Session>, NotFoundProblem>> GetAsync(string id, ISessionStore store,
        CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } session ? TypedResults.Ok(ToContract(session)) : SessionNotFound(id);

    internal static async Task<Results<NoContent, NotFoundProblem>> DeleteAsync(string id, ISessionStore store,
        CancellationToken cancellationToken) =>
        await store.RemoveAsync(id, cancellationToken) ? TypedResults.NoContent() : SessionNotFound(id);

    internal static async Task<Results<Ok<AttentionResult>, RawFloat32Result, ValidationProblem, NotFoundProblem, ProblemHttpResult>>
        DecodeStepAsync(HttpRequest request, ISessionStore store, ComputeGate gate,
            IOptions<CrossAttentionOptions> options, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (!RequestBody.IsJson(request)) return RequestBody.UnsupportedMediaType(request, binaryAllowed: false);
        var (body, error) = await RequestBody.ReadJsonAsync<DecodeStepRequest>(request, options.Value.Limits.MaxRequestBytes,
            json.Value.SerializerOptions, cancellationToken);
        if (error is not null) return error;
        using (body)
        {
            if (string.IsNullOrEmpty(body!.SessionId))
                return Problems.Invalid("sessionId", "is required.");
            return await DecodeAsync(request, body.SessionId, session: null, body, store, gate, options.Value, cancellationToken);
        }
    }

    internal static async Task<Results<Ok<AttentionResult>, RawFloat32Result, ValidationProblem, NotFoundProblem, ProblemHttpResult>>
        SessionDecodeStepAsync(string id, HttpRequest request, int? layer, int? rows, bool? returnAttention,
            ISessionStore store, ComputeGate gate, IOptions<CrossAttentionOptions> options,
            IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        DecodeStepRequest body;
        SessionEntry? session = null; // the raw form needs it (for d_q) before reading the body
        if (RequestBody.IsJson(request))
        {
            var (value, error) = await RequestBody.ReadJsonAsync<DecodeStepRequest>(request, settings.Limits.MaxRequestBytes,
                json.Value.SerializerOptions, cancellationToken);
            if (error is not null) return error;
            body = value!;
        }
        else if (RequestBody.IsOctetStream(request))
        {
            session = await store.GetAsync(id, cancellationToken);
            if (session is null) return SessionNotFound(id);
            var model = session.Model;
            var query = new RequestValidation(settings.Limits);
            if (rows is not > 0) query.Add("rows", "is required in the query string with a raw float32 body: the query count n (≥ 1).");
            else if (rows > settings.Limits.MaxQueries) query.Add("rows", $"{rows} exceeds {settings.Limits.MaxQueries} (Limits:MaxQueries).");
            query.Layer(layer, model);
            if (!query.IsValid) return TypedResults.ValidationProblem(query.Errors);
            var (queries, error) = await RequestBody.ReadFloat32Async(request, rows!.Value, model.QueryDim,
                settings.Limits.MaxRequestBytes, "queries", cancellationToken);
            if (error is not null) return error;
            body = new DecodeStepRequest { Layer = layer, Queries = queries, ReturnAttention = returnAttention ?? false };
        }
        else
        {
            return RequestBody.UnsupportedMediaType(request, binaryAllowed: true);
        }
        using (body)
        {
            return await DecodeAsync(request, id, session, body, store, gate, settings, cancellationToken);
        }
    }

    private static async Task<Results<Ok<AttentionResult>, RawFloat32Result, ValidationProblem, NotFoundProblem, ProblemHttpResult>>
        DecodeAsync(HttpRequest request, string sessionId, SessionEntry? session, DecodeStepRequest body, ISessionStore store,
            ComputeGate gate, CrossAttentionOptions settings, CancellationToken cancellationToken)
    {
        session ??= await store.GetAsync(sessionId, cancellationToken);
        if (session is null) return SessionNotFound(sessionId);
        var model = session.Model;
        var check = new RequestValidation(settings.Limits);
        check.Layer(body.Layer, model);
        check.Queries(body.Queries, model);
        check.AttentionSize(body.ReturnAttention, model, body.Queries, session.Encoded.SourceLength);
        if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

        int layer = body.Layer!.Value;
        // The lease keeps the K/V from being recycled if the session ends (delete, expiry) while this step runs.
        if (!session.Encoded.TryAcquire()) return SessionNotFound(sessionId);
        AttentionResult? result;
        try
        {
            result = await AttentionRecording.DecodeAsync(gate, session, layer, body.Queries!, body.ReturnAttention, cancellationToken);
        }
        finally
        {
            session.Encoded.Release();
        }
        if (result is null) return AttentionRecording.RecordFull(session, layer);
        return CrossAttentionCompute.WantsRawFloat32(request) ? new RawFloat32Result(result) : TypedResults.Ok(result);
    }

    /// <summary>Finds a served model, or the 404 to answer (saying so when model folders are still loading).</summary>
    internal static bool TryFindModel(ModelCatalog catalog, string name, out CrossAttentionModel model,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out NotFoundProblem? missing)
    {
        missing = catalog.TryGet(name, out model) ? null : Problems.NotFound("Model not found",
            catalog.IsReady
                ? $"No model named '{name}'. GET /models lists the models served."
                : $"No model named '{name}' yet; models are still loading (GET /health/ready).");
        return missing is null;
    }

    internal static Session ToContract(SessionEntry s) =>
        new(s.Id, s.ModelName, s.Encoded.Layers.Count, s.Encoded.SourceLength, s.KvBytes, s.CreatedAt, s.ExpiresAt);

    internal static NotFoundProblem SessionNotFound(string id) =>
        Problems.NotFound("Session not found", $"No session '{id}': it never existed, was deleted, or expired.");

    private static ProblemHttpResult InsufficientStorage(HttpResponse response, long needed, SessionStoreUsage usage)
    {
        response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status507InsufficientStorage, "Session cache full",
        $"This session needs {needed} bytes of K/V; the cache holds {usage.Bytes} of {usage.LimitBytes} bytes " +
        $"(Cache:SizeLimitBytes). Delete finished sessions or retry later.",
            new Dictionary<string, object?> { ["retryAfterSeconds"] = RetryAfterSeconds });
    }

    private static bool TryParseMask(string text, out int[]? mask)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        mask = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out mask[i])) return false;
        return true;
    }
}
