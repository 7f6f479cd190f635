using CrossAttention.Core.Scheduling;
using System.Diagnostics;
using CrossAttention.Api.Contracts;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Observability;

/// <summary>
/// Spans and measurements around the engine calls: an encode (its wait for cores and its compute) and a decode step
/// (its wait and batch are recorded by the gate). Each scope also counts the request's tensor bytes as in flight.
/// </summary>
internal static class ComputeTelemetry
{
    public static EncodeScope Encode(ComputeGate gate, CrossAttentionModel model, FloatMatrix source)
    {
        var span = CrossAttentionTracing.Source.StartActivity("encode");
        span?.SetTag("crossattention.model", model.Name);
        span?.SetTag("crossattention.source_length", source.Rows);
        span?.SetTag("crossattention.layers", model.Layers.Count);
        return new EncodeScope(gate.Metrics, model.Name, span, TensorBytes(source));
    }

    public static DecodeStepScope DecodeStep(ComputeGate gate, CrossAttentionModel model, int layer, FloatMatrix queries, int sourceLength)
    {
        var span = CrossAttentionTracing.Source.StartActivity("decode-step");
        span?.SetTag("crossattention.model", model.Name);
        span?.SetTag("crossattention.layer", layer);
        span?.SetTag("crossattention.rows", queries.Rows);
        span?.SetTag("crossattention.source_length", sourceLength);
        return new DecodeStepScope(gate.Metrics, span, TensorBytes(queries));
    }

    private static long TensorBytes(FloatMatrix matrix) => (long)matrix.Values.Length * sizeof(float);

    /// <summary>An encode request's span and in-flight bytes, from before its wait for cores to its end.</summary>
    public sealed class EncodeScope : IDisposable
    {
        private readonly CrossAttentionMetrics? _metrics;
        private readonly string _model;
        private readonly Activity? _span;
        private readonly long _bytes;

        internal EncodeScope(CrossAttentionMetrics? metrics, string model, Activity? span, long bytes)
        {
            (_metrics, _model, _span, _bytes) = (metrics, model, span, bytes);
            _metrics?.RequestBytesInFlight(bytes);
        }

        /// <summary>The cores are held from here until the returned scope ends: that is the encode's compute time.</summary>
        public ComputeScope Computing(int threads)
        {
            var span = CrossAttentionTracing.Source.StartActivity("encode.compute");
            span?.SetTag("crossattention.threads", threads);
            return new ComputeScope(_metrics, _model, span, Stopwatch.GetTimestamp());
        }

        public void Dispose()
        {
            _metrics?.RequestBytesInFlight(-_bytes);
            _span?.Dispose();
        }
    }

    public readonly struct ComputeScope(CrossAttentionMetrics? metrics, string model, Activity? span, long started) : IDisposable
    {
        public void Dispose()
        {
            metrics?.EncodeComputed(Stopwatch.GetElapsedTime(started), model);
            span?.Dispose();
        }
    }

    /// <summary>A decode step's span and in-flight bytes; its queue wait and batch are recorded by the gate.</summary>
    public sealed class DecodeStepScope : IDisposable
    {
        private readonly CrossAttentionMetrics? _metrics;
        private readonly Activity? _span;
        private readonly long _bytes;

        internal DecodeStepScope(CrossAttentionMetrics? metrics, Activity? span, long bytes)
        {
            (_metrics, _span, _bytes) = (metrics, span, bytes);
            _metrics?.RequestBytesInFlight(bytes);
        }

        public void Dispose()
        {
            _metrics?.RequestBytesInFlight(-_bytes);
            _span?.Dispose();
        }
    }
}
