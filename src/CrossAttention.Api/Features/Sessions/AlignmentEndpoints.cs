using System.Security.Claims;
using CrossAttention.Api.Auth;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Alignment;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Features.Sessions;

/// <summary>One step's span of source positions on the alignment path.</summary>
public sealed record AlignmentSpanInfo(int Step, int From, int To);

/// <summary>
/// A recording session's alignment on one layer: the matrix [steps, m] (averaged over the chosen heads, normalised and
/// filtered when asked), the dynamic time warping path as [step, sourceIndex] pairs, and each step's span.
/// </summary>
public sealed record AlignmentResponse(int Layer, int[] Heads, int Steps, int SourceLength, float[][] Matrix, int[][] Path,
    AlignmentSpanInfo[] Spans);

/// <summary>GET /sessions/{id}/alignment, on the sessions route group (and whatever that group requires).</summary>
public static class AlignmentEndpoints
{
    /// <summary>Widest median filter accepted; Whisper uses 7.</summary>
    internal const int MaxMedianFilter = 255;

    public static RouteGroupBuilder MapAlignment(this RouteGroupBuilder group)
    {
        group.MapGet("/sessions/{id}/alignment", GetAlignmentAsync)
            .WithName("GetAlignment")
            .WithSummary("The recorded attention of a session's decode steps and its monotonic alignment (dynamic time warping)")
            .WithDescription("Needs a session encoded with recordAttention. The matrix has one row per recorded query row of " +
                "the layer, averaged over the chosen heads (all when omitted); normalize=true standardises each source " +
                "column over the steps and medianFilter=w (odd) filters each row along the source, per head as Whisper " +
                "does. The path runs from [0, 0] to [steps − 1, last unmasked position], never through padding.");
        return group;
    }

    internal static async Task<Results<Ok<AlignmentResponse>, ValidationProblem, NotFoundProblem>> GetAlignmentAsync(
        string id, int? layer, string? heads, int? medianFilter, bool? normalize, ClaimsPrincipal user, ISessionStore store,
        IOptions<CrossAttentionOptions> options, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(user.SessionKey(id), cancellationToken) is not { } session)
            return SessionsEndpoints.SessionNotFound(id);
        if (session.Recorder is not { } recorder)
            return Problems.Invalid("recordAttention", "this session does not record attention; encode with \"recordAttention\": true " +
                "(raw form: &recordAttention=true) to get an alignment.");

        var model = session.Model;
        var check = new RequestValidation(options.Value.Limits);
        check.Layer(layer, model);
        int[] chosen = ParseHeads(heads, model.Heads, check);
        int width = medianFilter ?? 1;
        if (width < 1 || width > MaxMedianFilter || width % 2 == 0)
            check.Add("medianFilter", $"{width} is not allowed: an odd width from 1 (no filter) to {MaxMedianFilter}.");
        if (!check.IsValid) return TypedResults.ValidationProblem(check.Errors);

        int l = layer!.Value, m = recorder.SourceLength;
        var perHead = recorder.Read(l, chosen, out int steps);
        var result = AttentionAlignment.Compute(perHead, steps, m, recorder.Mask, normalize ?? false, width);
        var matrix = new float[steps][];
        for (int i = 0; i < steps; i++) matrix[i] = result.Matrix.AsSpan(i * m, m).ToArray();
        return TypedResults.Ok(new AlignmentResponse(l, chosen, steps, m, matrix,
            [.. result.Path.Select(p => new[] { p.Step, p.Source })],
            [.. result.Spans.Select(s => new AlignmentSpanInfo(s.Step, s.From, s.To))]));
    }

    /// <summary>"0,3" → [0, 3]; omitted or empty → every head. Adds an error for anything else.</summary>
    private static int[] ParseHeads(string? text, int headCount, RequestValidation check)
    {
        if (string.IsNullOrWhiteSpace(text)) return [.. Enumerable.Range(0, headCount)];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var heads = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out heads[i]))
            {
                check.Add("heads", $"'{parts[i]}' is not a head number; send a comma-separated list such as 0,3.");
                return [];
            }
            if (heads[i] >= headCount)
            {
                check.Add("heads", $"{heads[i]} is out of range: model heads are 0 to {headCount - 1}.");
                return [];
            }
        }
        if (heads.Distinct().Count() != heads.Length) check.Add("heads", "names a head twice.");
        return heads;
    }
}
