using CrossAttention.Core.Caching;
using CrossAttention.Core.Scheduling;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CrossAttention.Api.Features.Sessions;

/// <summary>
/// What POST /encode and PUT /sessions/{id} bind: the body (JSON, or raw float32 whose shape and options come from
/// the query string below) and the services an encode uses.
/// </summary>
/// <param name="Model">Raw body only: the model.</param>
/// <param name="Rows">Raw body only: source rows m; the body holds m × d_src float32.</param>
/// <param name="SourceMask">Raw body only: optional comma-separated 1 (keep) / 0 (padding), one per row.</param>
/// <param name="TtlSeconds">Raw body only: optional sliding TTL in seconds.</param>
/// <param name="RecordAttention">Raw body only: record every decode step's attention for GET /sessions/{id}/alignment.</param>
/// <param name="KvDtype">Raw body only: what the session stores K and V as (float32, float16, bfloat16).</param>
internal sealed record EncodeParameters(
    HttpRequest Request,
    [FromQuery(Name = "model")] string? Model,
    [FromQuery(Name = "rows")] int? Rows,
    [FromQuery(Name = "sourceMask")] string? SourceMask,
    [FromQuery(Name = "ttlSeconds")] int? TtlSeconds,
    [FromQuery(Name = "recordAttention")] bool? RecordAttention,
    [FromQuery(Name = "kvDtype")] string? KvDtype,
    ModelCatalog Catalog,
    ISessionStore Store,
    ComputeGate Gate,
    KeyValueBufferPool Pool,
    TimeProvider Time,
    IOptions<CrossAttentionOptions> Options,
    IOptions<JsonOptions> Json,
    CancellationToken CancellationToken) : BodyParameters<EncodeRequest>(Request, Options, Json)
{
    public override bool AcceptsRawFloat32 => true;

    public override (int Rows, string Key) MaxMatrixRows => (Limits.MaxSourceLength, "Limits:MaxSourceLength");

    public override async ValueTask<(EncodeRequest? Body, IResult? Refusal)> ReadRawFloat32Async(CancellationToken cancellationToken)
    {
        var query = new RequestValidation(Limits);
        if (string.IsNullOrEmpty(Model)) query.Add("model", "is required in the query string with a raw float32 body.");
        if (Rows is not > 0) query.Add("rows", "is required in the query string with a raw float32 body: the source length m (≥ 1).");
        else if (Rows > Limits.MaxSourceLength) query.Add("rows", $"{Rows} exceeds {Limits.MaxSourceLength} (Limits:MaxSourceLength).");
        int[]? mask = null;
        if (SourceMask is not null && !TryParseMask(SourceMask, out mask))
            query.Add("sourceMask", "must be a comma-separated list of 1 (keep) and 0 (padding).");
        if (!query.IsValid) return (null, TypedResults.ValidationProblem(query.Errors));

        var (source, error) = await RequestBody.ReadFloat32Async(Request, Rows!.Value, Limits.MaxRequestBytes, "source", cancellationToken);
        if (error is not null) return (null, error);
        return (new EncodeRequest
        {
            Model = Model, Source = source, SourceMask = mask, TtlSeconds = TtlSeconds, RecordAttention = RecordAttention ?? false,
            KvDtype = KvDtype,
        }, null);
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
