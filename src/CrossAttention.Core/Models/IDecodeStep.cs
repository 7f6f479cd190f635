using CrossAttention.Core.Caching;

namespace CrossAttention.Core.Models;

/// <summary>
/// One client's decode step inside a batch (<see cref="CrossAttentionLayer.DecodeBatch{TStep}"/>): its queries, the
/// cache they attend to, and where its results go.
/// </summary>
public interface IDecodeStep
{
    KeyValueCache Cache { get; }

    /// <summary>n, the step's query count.</summary>
    int Rows { get; }

    /// <summary>[n, queryDim]</summary>
    ReadOnlySpan<float> Queries { get; }

    /// <summary>[n, queryDim]</summary>
    Span<float> Output { get; }

    /// <summary>[heads, n, m], or empty when the step does not want the weights.</summary>
    Span<float> Attention { get; }
}
