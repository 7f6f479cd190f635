namespace CrossAttention.Core.Scheduling;

/// <summary>A decode step found the gate's queue of waiting steps full; nothing was computed, so it may simply retry.</summary>
public sealed class ComputeQueueFullException(int maxQueuedSteps)
    : Exception($"{maxQueuedSteps} decode steps are already waiting for a core; retry shortly.")
{
    public int MaxQueuedSteps { get; } = maxQueuedSteps;
}
