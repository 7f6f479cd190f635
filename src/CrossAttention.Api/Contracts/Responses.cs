using System.Text.Json.Serialization;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Contracts;

/// <summary>A served model's cross-attention shape.</summary>
/// <param name="Name">Name to use in requests.</param>
/// <param name="Family">Checkpoint family (bart, t5, whisper, torch-mha, linear, demo, …).</param>
/// <param name="Layers">Decoder layers with cross-attention.</param>
/// <param name="Heads">Attention heads h.</param>
/// <param name="HeadDim">Size of each head d_h.</param>
/// <param name="QueryDim">Query (and output) row size d_q.</param>
/// <param name="SourceDim">Source row size d_src.</param>
/// <param name="Scale">Score scale (d_h^-0.5, or 1.0 for T5).</param>
/// <param name="Biases">Which projections carry a bias.</param>
/// <param name="WeightsDtype">What the q, k, v and output weights are stored as: float32, float16 or bfloat16 (biases are float32).</param>
/// <param name="WeightBytes">Bytes the model's packed weights and biases hold in memory, every layer (panel padding included).</param>
public sealed record ModelInfo(string Name, string Family, int Layers, int Heads, int HeadDim, int QueryDim, int SourceDim,
    float Scale, BiasInfo Biases, string WeightsDtype, long WeightBytes)
{
    public static ModelInfo From(CrossAttentionModel model) => new(model.Name, model.Family, model.Layers.Count, model.Heads,
        model.HeadDim, model.QueryDim, model.SourceDim, model.Scale,
        new BiasInfo(model.Biases.Q, model.Biases.K, model.Biases.V, model.Biases.O), model.WeightsType.Name(), model.WeightBytes);
}

public sealed record BiasInfo(bool Q, bool K, bool V, bool O);

/// <summary>A session: one encoded source, its K/V cached for every layer.</summary>
/// <param name="SessionId">128-bit random, URL-safe.</param>
/// <param name="Model">Model it was encoded with.</param>
/// <param name="Layers">Layers whose K/V are cached.</param>
/// <param name="SourceLength">Source positions m (padding included).</param>
/// <param name="KvBytes">Bytes the cached K/V hold in memory.</param>
/// <param name="CreatedAt">When it was encoded.</param>
/// <param name="ExpiresAt">When it ends unless used again (sliding TTL, capped by the maximum lifetime).</param>
/// <param name="KvDtype">What K and V are stored as: float32, float16 or bfloat16.</param>
public sealed record Session(string SessionId, string Model, int Layers, int SourceLength, long KvBytes,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string KvDtype);

/// <summary>
/// The result of a decode step or stateless attention: output [n, d_q] and, when asked, attention [heads, n, m].
/// Held flat; written as nested JSON arrays or raw float32.
/// </summary>
[JsonConverter(typeof(AttentionResultJsonConverter))]
public sealed class AttentionResult(float[] output, int queries, int queryDim, float[]? attention, int heads, int sourceLength)
{
    /// <summary>[n, d_q]</summary>
    public float[] Output { get; } = output;

    public int Queries { get; } = queries;
    public int QueryDim { get; } = queryDim;

    /// <summary>[heads, n, m], or null when not asked for.</summary>
    public float[]? Attention { get; } = attention;

    public int Heads { get; } = heads;
    public int SourceLength { get; } = sourceLength;
}
