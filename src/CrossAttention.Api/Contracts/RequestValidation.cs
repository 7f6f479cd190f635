using CrossAttention.Api.Options;
using CrossAttention.Api.Services;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// Checks request tensors against the model's shape and the service's limits, collecting every error by field name
/// (the keys of a ValidationProblem), so a client sees all that is wrong at once.
/// </summary>
internal sealed class RequestValidation(LimitsOptions limits)
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;
    public IDictionary<string, string[]> Errors => _errors;

    public void Add(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

    public void Source(FloatMatrix? source, CrossAttentionModel model) =>
        Matrix("source", source, model.SourceDim, $"d_src of model '{model.Name}'", limits.MaxSourceLength, "Limits:MaxSourceLength");

    public void Queries(FloatMatrix? queries, CrossAttentionModel model) =>
        Matrix("queries", queries, model.QueryDim, $"d_q of model '{model.Name}'", limits.MaxQueries, "Limits:MaxQueries");

    public void Layer(int? layer, CrossAttentionModel model)
    {
        if (layer is not int l) Add("layer", $"is required: a decoder layer from 0 to {model.Layers.Count - 1}.");
        else if (l < 0 || l >= model.Layers.Count)
            Add("layer", $"{l} is out of range: model '{model.Name}' has layers 0 to {model.Layers.Count - 1}.");
    }

    /// <summary>Checks a 1/0 mask for m positions and converts it to bytes; null when valid and absent.</summary>
    public byte[]? Mask(int[]? mask, int sourceLength)
    {
        if (mask is null) return null;
        if (mask.Length != sourceLength)
        {
            Add("sourceMask", $"has {mask.Length} entries; the source has {sourceLength} rows.");
            return null;
        }
        var bytes = new byte[mask.Length];
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] is not (0 or 1))
            {
                Add("sourceMask", $"entry {i} is {mask[i]}; entries must be 1 (keep) or 0 (padding).");
                return null;
            }
            bytes[i] = (byte)mask[i];
        }
        if (!bytes.AsSpan().Contains((byte)1))
        {
            Add("sourceMask", "every position is padding; at least one source position must be kept.");
            return null;
        }
        return bytes;
    }

    /// <summary>
    /// Checks the response fits one array and Limits:MaxResponseBytes (JSON counted at
    /// <see cref="CrossAttentionCompute.JsonBytesPerValue"/> a value, raw at 4), before anything is computed.
    /// </summary>
    public void ResponseSize(bool returnAttention, CrossAttentionModel model, FloatMatrix? queries, int sourceLength, bool json)
    {
        if (queries is null) return;
        if (returnAttention && !CrossAttentionCompute.AttentionFits(model.Heads, queries.Rows, sourceLength))
        {
            Add("returnAttention", $"the attention matrix [{model.Heads}, {queries.Rows}, {sourceLength}] is too large for one response; send fewer queries per step.");
            return;
        }
        long bytes = CrossAttentionCompute.ResponseBytes(model, queries.Rows, sourceLength, returnAttention, json);
        if (bytes <= limits.MaxResponseBytes) return;
        string form = json
            ? "ask for raw float32 instead (Accept: application/octet-stream, 4 bytes a value) or send fewer query rows per step"
            : "send fewer query rows per step";
        Add(returnAttention ? "returnAttention" : "queries", $"the response would be about {bytes} bytes, over Limits:MaxResponseBytes " +
            $"({limits.MaxResponseBytes}): {form}.");
    }

    public void Ttl(int? ttlSeconds, CacheOptions cache)
    {
        if (ttlSeconds is int ttl && (ttl < 1 || ttl > cache.MaxTtlSeconds))
            Add("ttlSeconds", $"{ttl} is out of range: 1 to {cache.MaxTtlSeconds} (Cache:MaxTtlSeconds).");
    }

    /// <summary>The K/V dtype a request names, or the configured default (Cache:KvDtype, validated at start).</summary>
    public KeyValueElementType KvDtype(string? kvDtype, CacheOptions cache)
    {
        if (KeyValueElementTypes.TryParse(kvDtype ?? cache.KvDtype, out var elementType)) return elementType;
        Add("kvDtype", $"'{kvDtype}' is not a K/V dtype: use {string.Join(", ", KeyValueElementTypes.Names)}.");
        return default;
    }

    private void Matrix(string field, FloatMatrix? matrix, int width, string widthName, int maxRows, string maxRowsKey)
    {
        if (matrix is null || matrix.Rows == 0)
        {
            Add(field, $"is required: at least one row of {width} values ({widthName}).");
            return;
        }
        if (matrix.Problem is { } problem)
        {
            Add(field, problem.Message);
            return;
        }
        if (matrix.Columns != width)
            Add(field, $"rows have {matrix.Columns} values; each row must have {width} ({widthName}).");
        if (matrix.Rows > maxRows)
            Add(field, $"has {matrix.Rows} rows; at most {maxRows} are allowed ({maxRowsKey}).");
    }
}
