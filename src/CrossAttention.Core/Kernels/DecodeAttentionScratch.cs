namespace CrossAttention.Core.Kernels;

/// <summary>
/// Per-thread, 64-byte aligned scratch for the decode kernel (scores, accumulators). Grows on demand and is then
/// reused, so a decode step allocates nothing once a thread has seen its largest shape.
/// </summary>
internal static unsafe class DecodeAttentionScratch
{
    [ThreadStatic] private static float[]? t_store;
    [ThreadStatic] private static nint t_aligned;
    [ThreadStatic] private static int t_capacity;

    /// <summary>At least <paramref name="floats"/> floats, valid on this thread until the next call.</summary>
    public static float* Get(int floats)
    {
        if (floats > t_capacity || t_store is null)
        {
            int capacity = Math.Max(floats, 4096);
            // Pinned: the raw pointer must stay valid across GCs triggered by other threads mid-kernel.
            t_store = GC.AllocateUninitializedArray<float>(capacity + 16, pinned: true);
            nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref t_store[0]);
            t_aligned = (address + 63) & ~(nint)63;
            t_capacity = capacity;
        }
        return (float*)t_aligned;
    }
}
