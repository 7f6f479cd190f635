namespace CrossAttention.Core.Kernels;

/// <summary>How a call may compute: which kernel variant, and how many threads it may take.</summary>
public readonly record struct ComputeOptions(KernelVariant Variant, int MaxThreads)
{
    /// <summary>The widest variant this CPU has, on the caller's thread only.</summary>
    public static ComputeOptions Default => new(KernelVariants.Best, 1);

    public static ComputeOptions Parallel(int maxThreads) => new(KernelVariants.Best, Math.Max(1, maxThreads));
}
