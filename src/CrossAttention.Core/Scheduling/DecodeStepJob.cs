using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Scheduling;

/// <summary>One caller's decode step, as the gate queues and batches it.</summary>
/// <param name="queries">[n, queryDim]; read while the step runs</param>
/// <param name="rows">n</param>
/// <param name="output">[n, queryDim]</param>
/// <param name="attention">[heads, n, m], or empty when the weights are not wanted</param>
public sealed class DecodeStepJob(CrossAttentionLayer layer, KeyValueCache cache, ReadOnlyMemory<float> queries, int rows,
    Memory<float> output, Memory<float> attention = default) : ComputeGate.Waiter, IDecodeStep
{
    private TaskCompletionSource? _done;

    public CrossAttentionLayer Layer => layer;
    public KeyValueCache Cache => cache;
    public int Rows => rows;
    public ReadOnlySpan<float> Queries => queries.Span;
    public Span<float> Output => output.Span;
    public Span<float> Attention => attention.Span;

    /// <summary>The cores the step computed on (0 until it has run; 1 in a batch of waiting steps).</summary>
    public int Threads { get; internal set; }

    // Only a step that has to wait needs something to wait on. Its caller resumes on the thread that completes it:
    // the batch's thread after it has given its core back, or the canceller (never under the gate's lock).
    internal void PrepareToWait() => _done = new TaskCompletionSource();

    internal async ValueTask WaitAsync(ComputeGate gate, CancellationToken cancellationToken)
    {
        using (OnCancel(gate, this, cancellationToken, static (w, token) => ((DecodeStepJob)w)._done!.SetCanceled(token)))
            await _done!.Task;
    }

    internal void Complete(Exception? error)
    {
        if (error is null) _done!.SetResult();
        else _done!.SetException(error);
    }
}
