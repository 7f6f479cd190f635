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

/// <summary>
/// The one place that decides which variants this CPU runs: every kernel resolves the variant it is asked for here
/// before it dispatches, so all of them agree on what "supported" means (<c>VectorN.IsHardwareAccelerated</c>).
/// </summary>
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

    /// <summary>
    /// The variant a kernel runs when asked for <paramref name="requested"/>: that one if this CPU supports it, else
    /// the widest supported one narrower than it (an unknown value runs scalar).
    /// </summary>
    public static KernelVariant Resolve(KernelVariant requested)
    {
        for (var variant = requested; variant > KernelVariant.Scalar; variant--)
            if (IsSupported(variant)) return variant;
        return KernelVariant.Scalar;
    }

    /// <summary>
    /// Reads a forced variant by name (Scalar, Vector128, Vector256, Vector512; any case). Empty or blank means
    /// <see cref="Best"/>. False, with the reason, for a name that is not a variant or that this CPU cannot run.
    /// </summary>
    public static bool TryParse(string? text, out KernelVariant variant, out string? error)
    {
        variant = Best;
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        string? name = Enum.GetNames<KernelVariant>()
            .FirstOrDefault(n => n.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)); // names only, not numbers
        if (name is null)
        {
            error = $"'{text}' is not a kernel variant (use one of {string.Join(", ", Enum.GetNames<KernelVariant>())}, or leave it empty for the best this CPU has).";
            return false;
        }
        var named = Enum.Parse<KernelVariant>(name);
        if (!IsSupported(named))
        {
            error = $"'{named}' is not supported by this CPU (it supports {string.Join(", ", Supported)}).";
            return false;
        }
        variant = named;
        return true;
    }
}
