using CrossAttention.Core.Scheduling;
using System.Text.Json;
using System.Threading.RateLimiting;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Options;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace CrossAttention.Api.Infrastructure;

/// <summary>
/// The [AsParameters] type of an endpoint that reads a body: JSON, or (when <see cref="AcceptsRawFloat32"/>) raw
/// little-endian float32 whose shape comes from the query string.
/// </summary>
internal interface IRequestWithBody<TBody> where TBody : class, IDisposable
{
    HttpRequest Request { get; }
    LimitsOptions Limits { get; }
    JsonSerializerOptions JsonOptions { get; }

    /// <summary>Set by <see cref="BodyNegotiationFilter{TParameters,TBody}"/> before the handler runs.</summary>
    TBody? Body { set; }

    bool AcceptsRawFloat32 { get; }

    /// <summary>Most rows a matrix of this endpoint's JSON body may have; the parser stops at the row past it.</summary>
    (int Rows, string Key) MaxMatrixRows { get; }

    /// <summary>Reads the raw float32 form; the refusal (a problem result) instead when the query string or body is wrong.</summary>
    ValueTask<(TBody? Body, IResult? Refusal)> ReadRawFloat32Async(CancellationToken cancellationToken);
}

/// <summary>
/// The base of an endpoint's [AsParameters] type: the body <see cref="BodyNegotiationFilter{TParameters,TBody}"/>
/// read, and the settings reading it needs. JSON only unless a derived type reads the raw float32 form.
/// </summary>
internal abstract record BodyParameters<TBody>(HttpRequest Request, IOptions<CrossAttentionOptions> Options, IOptions<JsonOptions> Json)
    : IRequestWithBody<TBody> where TBody : class, IDisposable
{
    private TBody? _body;

    /// <summary>The request body, in whichever form it came.</summary>
    public TBody Body => _body ?? throw new InvalidOperationException("The body is read by BodyNegotiationFilter.");

    TBody? IRequestWithBody<TBody>.Body { set => _body = value; }
    public LimitsOptions Limits => Options.Value.Limits;
    public JsonSerializerOptions JsonOptions => Json.Value.SerializerOptions;
    public virtual bool AcceptsRawFloat32 => false;

    /// <summary>The larger of the source and query row limits, unless the endpoint's body has only one kind of matrix.</summary>
    public virtual (int Rows, string Key) MaxMatrixRows => Limits.MaxSourceLength >= Limits.MaxQueries
        ? (Limits.MaxSourceLength, "Limits:MaxSourceLength")
        : (Limits.MaxQueries, "Limits:MaxQueries");

    public virtual ValueTask<(TBody? Body, IResult? Refusal)> ReadRawFloat32Async(CancellationToken cancellationToken) =>
        throw new NotSupportedException("This endpoint takes JSON only.");
}

/// <summary>
/// Content negotiation of request bodies in one place: reads the body in the form its Content-Type names (415 for any
/// other), answers the problem when it cannot be read (400, 413), and disposes it (pooled buffers) after the handler.
/// </summary>
internal sealed class BodyNegotiationFilter<TParameters, TBody> : IEndpointFilter
    where TParameters : class, IRequestWithBody<TBody> where TBody : class, IDisposable
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var parameters = context.Arguments.OfType<TParameters>().Single();
        var request = parameters.Request;
        var cancellationToken = request.HttpContext.RequestAborted;
        // Counted from before its body is read: while another request is on its way, a decode step keeps to one core.
        using var arrival = request.HttpContext.RequestServices.GetRequiredService<ComputeGate>().Arrive();
        // Expensive endpoints compute under a permit taken once the body has arrived (before it is parsed), held
        // until the handler returns: a slow upload never holds one.
        RateLimitLease? permit = null;
        Func<CancellationToken, ValueTask>? takePermit = ExpensiveComputePermits.AppliesTo(request.HttpContext)
            ? async token => permit = await request.HttpContext.RequestServices.GetRequiredService<ExpensiveComputePermits>().AcquireAsync(token)
            : null;
        try
        {
            TBody? body;
            IResult? refusal;
            if (RequestBody.IsJson(request))
                (body, refusal) = await RequestBody.ReadJsonAsync<TBody>(request, parameters.Limits.MaxRequestBytes,
                    parameters.JsonOptions, ReadLimits(parameters, request.HttpContext), takePermit, cancellationToken);
            else if (RequestBody.IsOctetStream(request) && parameters.AcceptsRawFloat32)
                (body, refusal) = await ReadRawFloat32Async(parameters, takePermit, cancellationToken);
            else
                (body, refusal) = (null, RequestBody.UnsupportedMediaType(request, parameters.AcceptsRawFloat32));
            if (refusal is not null) return refusal;

            using (body)
            {
                parameters.Body = body;
                return await next(context);
            }
        }
        finally
        {
            permit?.Dispose();
        }
    }

    /// <summary>The raw form has nothing to parse: the permit is taken once its bytes have arrived.</summary>
    private static async ValueTask<(TBody? Body, IResult? Refusal)> ReadRawFloat32Async(TParameters parameters,
        Func<CancellationToken, ValueTask>? takePermit, CancellationToken cancellationToken)
    {
        var (body, refusal) = await parameters.ReadRawFloat32Async(cancellationToken);
        if (refusal is not null || takePermit is null) return (body, refusal);
        try
        {
            await takePermit(cancellationToken);
        }
        catch
        {
            body?.Dispose();
            throw;
        }
        return (body, null);
    }

    private static JsonReadLimits ReadLimits(TParameters parameters, HttpContext context)
    {
        var (rows, key) = parameters.MaxMatrixRows;
        // No served model takes a wider row: a wider one is refused at its first extra value.
        int widest = 0;
        foreach (var model in context.RequestServices.GetRequiredService<ModelCatalog>().All)
            widest = Math.Max(widest, Math.Max(model.SourceDim, model.QueryDim));
        return new JsonReadLimits(rows, key, widest > 0 ? widest : int.MaxValue, parameters.Limits.MaxSourceLength,
            InFlightReservation.For(context));
    }
}

internal static class BodyNegotiationExtensions
{
    /// <summary>Reads the body of <typeparamref name="TParameters"/> before the handler, in the negotiated form.</summary>
    public static RouteHandlerBuilder NegotiatesBody<TParameters, TBody>(this RouteHandlerBuilder builder)
        where TParameters : class, IRequestWithBody<TBody> where TBody : class, IDisposable =>
        builder.AddEndpointFilter<BodyNegotiationFilter<TParameters, TBody>>();
}
