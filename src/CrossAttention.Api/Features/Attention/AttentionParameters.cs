using System.Text.Json;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Features.Attention;

/// <summary>What POST /attention binds: a JSON body and the services a stateless attention uses.</summary>
internal sealed record AttentionParameters(
    HttpRequest Request,
    ModelCatalog Catalog,
    ComputeGate Gate,
    IOptions<CrossAttentionOptions> Options,
    IOptions<JsonOptions> Json,
    CancellationToken CancellationToken) : IRequestWithBody<AttentionRequest>
{
    private AttentionRequest? _body;

    public AttentionRequest Body => _body ?? throw new InvalidOperationException("The body is read by BodyNegotiationFilter.");

    AttentionRequest? IRequestWithBody<AttentionRequest>.Body { set => _body = value; }
    public LimitsOptions Limits => Options.Value.Limits;
    public JsonSerializerOptions JsonOptions => Json.Value.SerializerOptions;
}
