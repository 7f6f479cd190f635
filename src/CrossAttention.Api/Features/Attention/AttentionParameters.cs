using CrossAttention.Core.Caching;
using CrossAttention.Core.Scheduling;
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
    KeyValueBufferPool Pool,
    KeyValueLedger Ledger,
    IOptions<CrossAttentionOptions> Options,
    IOptions<JsonOptions> Json,
    CancellationToken CancellationToken) : BodyParameters<AttentionRequest>(Request, Options, Json);
