using CrossAttention.Core.Scheduling;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CrossAttention.Api.Features.DecodeSteps;

/// <summary>What POST /decode-step binds: a JSON body naming its session, and the services a step uses.</summary>
internal sealed record DecodeStepParameters(
    HttpRequest Request,
    ISessionStore Store,
    ComputeGate Gate,
    IOptions<CrossAttentionOptions> Options,
    IOptions<JsonOptions> Json,
    CancellationToken CancellationToken) : BodyParameters<DecodeStepRequest>(Request, Options, Json)
{
    public override (int Rows, string Key) MaxMatrixRows => (Limits.MaxQueries, "Limits:MaxQueries");
}


/// <summary>
/// What POST /sessions/{id}/decode-step binds: the session in the path, and a JSON body or raw float32 queries whose
/// shape and options come from the query string below.
/// </summary>
/// <param name="Id">Session id from POST /encode.</param>
/// <param name="Layer">Raw body only: the decoder layer.</param>
/// <param name="Rows">Raw body only: query rows n; the body holds n × d_q float32.</param>
/// <param name="ReturnAttention">Raw body only: also return the attention weights.</param>
internal sealed record SessionDecodeStepParameters(
    [FromRoute(Name = "id")] string Id,
    [FromQuery(Name = "layer")] int? Layer,
    [FromQuery(Name = "rows")] int? Rows,
    [FromQuery(Name = "returnAttention")] bool? ReturnAttention,
    HttpRequest Request,
    ISessionStore Store,
    ComputeGate Gate,
    IOptions<CrossAttentionOptions> Options,
    IOptions<JsonOptions> Json,
    CancellationToken CancellationToken) : BodyParameters<DecodeStepRequest>(Request, Options, Json)
{
    public override bool AcceptsRawFloat32 => true;

    public override (int Rows, string Key) MaxMatrixRows => (Limits.MaxQueries, "Limits:MaxQueries");

    public override async ValueTask<(DecodeStepRequest? Body, IResult? Refusal)> ReadRawFloat32Async(CancellationToken cancellationToken)
    {
        if (Rows is not > 0)
            return (null, Problems.Invalid("rows", "is required in the query string with a raw float32 body: the query count n (≥ 1)."));
        if (Rows > Limits.MaxQueries)
            return (null, Problems.Invalid("rows", $"{Rows} exceeds {Limits.MaxQueries} (Limits:MaxQueries)."));
        var (queries, error) = await RequestBody.ReadFloat32Async(Request, Rows.Value, Limits.MaxRequestBytes, "queries", cancellationToken);
        if (error is not null) return (null, error);
        return (new DecodeStepRequest { Layer = Layer, Queries = queries, ReturnAttention = ReturnAttention ?? false }, null);
    }
}
