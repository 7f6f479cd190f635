using CrossAttention.Api.Auth;
using CrossAttention.Core.Scheduling;
using System.Net.Mime;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Features.Sessions;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Services;
using CrossAttention.Api.Sessions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.DecodeSteps;

/// <summary>One decode step of a session, with the session in the body or in the path (for session-affine routing).</summary>
public static class DecodeStepsEndpoints
{
    public static RouteGroupBuilder MapDecodeSteps(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Sessions");

        group.MapPost("/decode-step", DecodeStepAsync)
            .NegotiatesBody<DecodeStepParameters, DecodeStepRequest>()
            .WithName("DecodeStep")
            .WithSummary("One decode step: the queries attend to a session's cached K/V of one layer")
            .WithDescription("softmax(scale·QKᵀ)V per head over the m source positions (padding weighs exactly 0), then the " +
                "output projection. Send Accept: application/octet-stream for raw float32 output.")
            .Accepts<DecodeStepRequest>(MediaTypeNames.Application.Json)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        group.MapPost("/sessions/{id}/decode-step", SessionDecodeStepAsync)
            .NegotiatesBody<SessionDecodeStepParameters, DecodeStepRequest>()
            .WithName("SessionDecodeStep")
            .WithSummary("One decode step, session in the path (for session-affine routing)")
            .WithDescription("Same as POST /decode-step; a sessionId in the body, if any, must name the session in the path. " +
                "Also takes raw little-endian float32 queries with Content-Type application/octet-stream and ?layer=&rows= " +
                "(optional &returnAttention=true).")
            .Accepts<DecodeStepRequest>(MediaTypeNames.Application.Json, MediaTypeNames.Application.Octet)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        return group;
    }

    internal static async Task<Results<NegotiatedAttentionResult, ValidationProblem, NotFoundProblem, ProblemHttpResult>> DecodeStepAsync(
        [AsParameters] DecodeStepParameters parameters)
    {
        var body = parameters.Body;
        if (string.IsNullOrEmpty(body.SessionId))
            return Problems.Invalid("sessionId", "is required.");
        return await DecodeAsync(parameters.Request, body.SessionId, body, parameters.Store, parameters.Gate, parameters.Options.Value, parameters.CancellationToken);
    }

    internal static async Task<Results<NegotiatedAttentionResult, ValidationProblem, NotFoundProblem, ProblemHttpResult>> SessionDecodeStepAsync(
        [AsParameters] SessionDecodeStepParameters parameters)
    {
        var body = parameters.Body;
        if (body.SessionId is { } named && named != parameters.Id)
            return Problems.Invalid("sessionId", $"names session '{named}', but the path names '{parameters.Id}'; omit it or make them agree.");
        return await DecodeAsync(parameters.Request, parameters.Id, body, parameters.Store, parameters.Gate, parameters.Options.Value, parameters.CancellationToken);
    }

    private static async Task<Results<NegotiatedAttentionResult, ValidationProblem, NotFoundProblem, ProblemHttpResult>> DecodeAsync(HttpRequest request, string sessionId,
        DecodeStepRequest body, ISessionStore store, ComputeGate gate, CrossAttentionOptions settings, CancellationToken cancellationToken)
    {
        var session = await store.GetAsync(request.HttpContext.User.SessionKey(sessionId), cancellationToken);
        if (session is null) return SessionsEndpoints.SessionNotFound(sessionId);
        var model = session.Model;
        var check = new RequestValidation(settings.Limits);
        check.Layer(body.Layer, model);
        check.Queries(body.Queries, model);
        bool json = !NegotiatedAttentionResult.WantsRawFloat32(request);
        check.ResponseSize(body.ReturnAttention, model, body.Queries, session.Encoded.SourceLength, json);
        if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

        int layer = body.Layer!.Value;
        // The lease keeps the K/V from being recycled if the session ends (delete, expiry) while this step runs.
        if (!session.Encoded.TryAcquire()) return SessionsEndpoints.SessionNotFound(sessionId);
        AttentionResult? result;
        try
        {
            result = await AttentionRecording.DecodeAsync(gate, session, layer, body.Queries!, body.ReturnAttention,
                InFlightReservation.For(request.HttpContext), json, cancellationToken);
        }
        finally
        {
            session.Encoded.Release();
        }
        if (result is null) return AttentionRecording.RecordFull(session, layer);
        SessionsEndpoints.Telemetry(request)?.DecodeStep(sessionId, model.Name, layer, body.Queries!.Rows, session.Encoded.SourceLength);
        return new NegotiatedAttentionResult(result);
    }
}
