using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>The instruction-set width a kernel runs with. Every variant computes the same function.</summary>
public enum KernelVariant
{
    Scalar = 0,
    Vector128 = 1,
    Vector256 = 2,
    Vector512 = 3,
}

public static class KernelVariants
{
    /// <summary>The widest variant this CPU accelerates; what the engine uses unless told otherwise.</summary>
    public static KernelVariant Best { get; } =
        Vector512.IsHardwareAccelerated ? KernelVariant.Vector512 :
        Vector256.IsHardwareAccelerated ? KernelVariant.Vector256 :
        Vector128.IsHardwareAccelerated ? KernelVariant.Vector128 :
        KernelVariant.Scalar;

    /// <summary>Every variant this CPU can run, narrowest first (tests run each against the reference).</summary>
    public static IReadOnlyList<KernelVariant> Supported { get; } =
        Enum.GetValues<KernelVariant>().Where(IsSupported).ToArray();

    public static bool IsSupported(KernelVariant variant) => variant switch
    {
        KernelVariant.Scalar => true,
        KernelVariant.Vector128 => Vector128.IsHardwareAccelerated,
        KernelVariant.Vector256 => Vector256.IsHardwareAccelerated,
        KernelVariant.Vector512 => Vector512.IsHardwareAccelerated,
        _ => false,
    };
}
