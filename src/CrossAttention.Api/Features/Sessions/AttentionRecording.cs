using CrossAttention.Core.Scheduling;
using CrossAttention.Api.Services;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Alignment;
using CrossAttention.Core.Models;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CrossAttention.Api.Features.Sessions;

/// <summary>
/// Recording of decode steps' attention for sessions encoded with recordAttention: the one place a session's decode
/// step runs, so every step is recorded (or refused) the same way whichever endpoint it came through.
/// </summary>
internal static class AttentionRecording
{
    /// <summary>What a new session's record is charged (its whole capacity), 0 when it does not record.</summary>
    public static long RecordBytes(bool record, CrossAttentionModel model, int sourceLength, LimitsOptions limits) =>
        record ? AttentionRecorder.BytesFor(model.Layers.Count, model.Heads, sourceLength, limits.MaxRecordedSteps) : 0;

    /// <summary>The recorder for a new session, or null when it does not record.</summary>
    public static AttentionRecorder? CreateRecorder(bool record, CrossAttentionModel model, int sourceLength, byte[]? mask,
        LimitsOptions limits) =>
        record ? new AttentionRecorder(model.Layers.Count, model.Heads, sourceLength, limits.MaxRecordedSteps, mask) : null;

    /// <summary>
    /// Runs one decode step of the session and records its weights when the session records; null (and nothing
    /// computed) when the layer's record is full. The step's output is the same bits either way: the kernel writes the
    /// weights beside the output without changing how it is computed.
    /// </summary>
    public static async ValueTask<AttentionResult?> DecodeAsync(ComputeGate gate, SessionEntry session, int layer, FloatMatrix queries,
        bool returnAttention, InFlightReservation reservation, bool json, CancellationToken cancellationToken)
    {
        var cache = session.Encoded.Layers[layer];
        if (session.Recorder is not { } recorder)
            return await CrossAttentionCompute.DecodeAsync(gate, session.Model, layer, cache, queries, returnAttention, reservation, json,
                cancellationToken);

        int n = queries.Rows;
        if (!recorder.TryReserve(layer, n)) return null;
        AttentionResult result;
        try
        {
            result = await CrossAttentionCompute.DecodeAsync(gate, session.Model, layer, cache, queries, returnAttention: true,
                reservation, json, cancellationToken);
        }
        catch
        {
            recorder.CancelReservation(layer, n);
            throw;
        }
        recorder.Append(layer, result.Attention!, n);
        return returnAttention ? result : new AttentionResult(result.Output, n, result.QueryDim, null, result.Heads, result.SourceLength);
    }

    public static ProblemHttpResult RecordFull(SessionEntry session, int layer) => Problems.Create(StatusCodes.Status409Conflict,
        "Attention record full",
        $"Layer {layer} of session '{session.Id}' has recorded {session.Recorder!.MaxSteps} attention rows, the most a session " +
        "keeps (Limits:MaxRecordedSteps); this step was not computed. Read GET /sessions/{id}/alignment, then encode a new " +
        "session to go on (with recordAttention false, steps are not limited).");
}
