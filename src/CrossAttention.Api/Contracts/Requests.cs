using System.ComponentModel.DataAnnotations;

namespace CrossAttention.Api.Contracts;

/// <summary>A source to encode once for every decoder layer; the K/V cache is kept as a session.</summary>
public sealed class EncodeRequest : IDisposable
{
    /// <summary>Model name, as listed by GET /models.</summary>
    [Required]
    public string? Model { get; set; }

    /// <summary>The source S: m rows of d_src values (the encoder's hidden states).</summary>
    [Required]
    public FloatMatrix? Source { get; set; }

    /// <summary>Optional, one per source row: 1 keep, 0 padding (weight exactly 0).</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SourceMaskJsonConverter))]
    public int[]? SourceMask { get; set; }

    /// <summary>Optional sliding time-to-live in seconds (default Cache:DefaultTtlSeconds, at most Cache:MaxTtlSeconds).</summary>
    public int? TtlSeconds { get; set; }

    /// <summary>Keep every decode step's attention rows for GET /sessions/{id}/alignment (charged to the session's bytes).</summary>
    public bool RecordAttention { get; set; }

    /// <summary>
    /// What the session stores K and V as: float32, float16 or bfloat16 (default Cache:KvDtype). The 16-bit types halve
    /// the session's bytes; a source whose K or V exceed float16's range (±65504) is refused for float16.
    /// </summary>
    public string? KvDtype { get; set; }

    public void Dispose() => Source?.Dispose();
}

/// <summary>One decode step of a session: the target's queries attend to the session's cached K/V of one layer.</summary>
public sealed class DecodeStepRequest : IDisposable
{
    /// <summary>The session from POST /encode (omit in the path form /sessions/{id}/decode-step).</summary>
    public string? SessionId { get; set; }

    /// <summary>Decoder layer, 0-based.</summary>
    [Required]
    public int? Layer { get; set; }

    /// <summary>The queries X: n rows of d_q values (n tokens, or n beams sharing the source).</summary>
    [Required]
    public FloatMatrix? Queries { get; set; }

    /// <summary>Also return the attention weights P [heads, n, m].</summary>
    public bool ReturnAttention { get; set; }

    public void Dispose() => Queries?.Dispose();
}

/// <summary>Stateless cross-attention of one layer: encode the source and attend to it in one call; nothing is kept.</summary>
public sealed class AttentionRequest : IDisposable
{
    /// <summary>Model name, as listed by GET /models.</summary>
    [Required]
    public string? Model { get; set; }

    /// <summary>Decoder layer, 0-based.</summary>
    [Required]
    public int? Layer { get; set; }

    /// <summary>The source S: m rows of d_src values.</summary>
    [Required]
    public FloatMatrix? Source { get; set; }

    /// <summary>Optional, one per source row: 1 keep, 0 padding.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SourceMaskJsonConverter))]
    public int[]? SourceMask { get; set; }

    /// <summary>The queries X: n rows of d_q values.</summary>
    [Required]
    public FloatMatrix? Queries { get; set; }

    /// <summary>Also return the attention weights P [heads, n, m].</summary>
    public bool ReturnAttention { get; set; }

    public void Dispose()
    {
        Source?.Dispose();
        Queries?.Dispose();
    }
}
