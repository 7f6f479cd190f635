using CrossAttention.Api.Contracts;
using CrossAttention.Api.Observability;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Scheduling;

namespace CrossAttention.Api.Services;

/// <summary>The engine calls the endpoints share: each runs on cores the <see cref="ComputeGate"/> hands out.</summary>
internal static class CrossAttentionCompute
{
    public static async ValueTask<EncodedSource> EncodeAsync(ComputeGate gate, KeyValueBufferPool pool, CrossAttentionModel model,
        FloatMatrix source, byte[]? mask, KeyValueElementType elementType, CancellationToken cancellationToken)
    {
        using var observed = ComputeTelemetry.Encode(gate, model, source);
        using var lease = await gate.EnterAsync(gate.Capacity, cancellationToken);
        using var computing = observed.Computing(lease.Threads);
        return model.Encode(source.Values, source.Rows, mask, lease.Options, pool, elementType);
    }

    /// <summary>
    /// One layer's decode step (batched with other waiting steps of the layer); the response buffers are the only
    /// tensor allocation, reserved with the response they become (<paramref name="json"/>: its text) beforehand.
    /// </summary>
    public static async ValueTask<AttentionResult> DecodeAsync(ComputeGate gate, CrossAttentionModel model, int layer,
        KeyValueCache cache, FloatMatrix queries, bool returnAttention, InFlightReservation reservation, bool json,
        CancellationToken cancellationToken)
    {
        int n = queries.Rows;
        using var observed = ComputeTelemetry.DecodeStep(gate, model, layer, queries, cache.SourceLength);
        long values = ResponseValues(model, n, cache.SourceLength, returnAttention);
        // The float32 buffers below, then the response they are written as.
        reservation.Reserve(values * sizeof(float) + values * BytesPerValue(json), "the response");
        var output = new float[n * model.QueryDim];                                              // [n, d_q]
        float[]? attention = returnAttention ? new float[AttentionValues(model.Heads, n, cache.SourceLength)] : null; // [heads, n, m]
        await gate.DecodeAsync(model.Layers[layer], cache, queries.Memory, n, output, attention, cancellationToken);
        return new AttentionResult(output, n, model.QueryDim, attention, model.Heads, cache.SourceLength);
    }

    /// <summary>
    /// An upper estimate of a JSON value's bytes: the shortest round-trip float32 is at most 15 characters
    /// ("-1.1754944E-38"), plus its comma.
    /// </summary>
    public const int JsonBytesPerValue = 16;

    /// <summary>The bytes of a decode response: exact for raw float32, an upper estimate for JSON.</summary>
    public static long ResponseBytes(CrossAttentionModel model, int queries, int sourceLength, bool returnAttention, bool json) =>
        ResponseValues(model, queries, sourceLength, returnAttention) * BytesPerValue(json);

    /// <summary>Values in a decode response: output [n, d_q], then attention [heads, n, m] when asked.</summary>
    private static long ResponseValues(CrossAttentionModel model, int queries, int sourceLength, bool returnAttention) =>
        (long)queries * model.QueryDim + (returnAttention ? (long)model.Heads * queries * sourceLength : 0);

    private static int BytesPerValue(bool json) => json ? JsonBytesPerValue : sizeof(float);

    /// <summary>Values in an attention matrix [heads, n, m]; callers check <see cref="AttentionFits"/> first.</summary>
    public static int AttentionValues(int heads, int queries, int sourceLength) => checked(heads * queries * sourceLength);

    /// <summary>Whether [heads, n, m] fits one array (a request asking for more gets a 400, not an overflow).</summary>
    public static bool AttentionFits(int heads, int queries, int sourceLength) =>
        (long)heads * queries * sourceLength <= Array.MaxLength;
}
