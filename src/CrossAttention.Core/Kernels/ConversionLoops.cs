using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>How one float32 ↔ 16-bit format conversion treats a vector of lanes and a single value.</summary>
internal interface INarrowingRule
{
    /// <summary><paramref name="lower"/> then <paramref name="upper"/>, converted and packed into one vector of 16-bit patterns.</summary>
    static abstract Vector512<ushort> Narrow(Vector512<float> lower, Vector512<float> upper);
    static abstract Vector256<ushort> Narrow(Vector256<float> lower, Vector256<float> upper);
    static abstract Vector128<ushort> Narrow(Vector128<float> lower, Vector128<float> upper);
    static abstract ushort Narrow(float value);
}

internal interface IWideningRule
{
    /// <summary>16-bit patterns zero-extended to 32-bit lanes → float32.</summary>
    static abstract Vector512<float> Widen(Vector512<uint> bits);
    static abstract Vector256<float> Widen(Vector256<uint> bits);
    static abstract Vector128<float> Widen(Vector128<uint> bits);
    static abstract float Widen(ushort bits);
}

/// <summary>
/// The span loops every conversion shares: the chosen vector width over whole blocks, then an explicit scalar tail
/// (at most two vectors' worth) through the same rule.
/// </summary>
internal static class ConversionLoops
{
    public static void Narrow<TRule>(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant)
        where TRule : struct, INarrowingRule
    {
        if (destination.Length < source.Length) ThrowDestinationTooShort(nameof(destination));
        ref float input = ref MemoryMarshal.GetReference(source);
        ref ushort output = ref MemoryMarshal.GetReference(destination);
        int length = source.Length;
        int i = 0;
        if (variant >= KernelVariant.Vector512 && Vector512.IsHardwareAccelerated)
        {
            const int w = 16;
            for (; i + 2 * w <= length; i += 2 * w)
                TRule.Narrow(Vector512.LoadUnsafe(ref input, (nuint)i), Vector512.LoadUnsafe(ref input, (nuint)(i + w)))
                    .StoreUnsafe(ref output, (nuint)i);
        }
        else if (variant >= KernelVariant.Vector256 && Vector256.IsHardwareAccelerated)
        {
            const int w = 8;
            for (; i + 2 * w <= length; i += 2 * w)
                TRule.Narrow(Vector256.LoadUnsafe(ref input, (nuint)i), Vector256.LoadUnsafe(ref input, (nuint)(i + w)))
                    .StoreUnsafe(ref output, (nuint)i);
        }
        else if (variant >= KernelVariant.Vector128 && Vector128.IsHardwareAccelerated)
        {
            const int w = 4;
            for (; i + 2 * w <= length; i += 2 * w)
                TRule.Narrow(Vector128.LoadUnsafe(ref input, (nuint)i), Vector128.LoadUnsafe(ref input, (nuint)(i + w)))
                    .StoreUnsafe(ref output, (nuint)i);
        }
        for (; i < length; i++) Unsafe.Add(ref output, i) = TRule.Narrow(Unsafe.Add(ref input, i));
    }

    public static void Widen<TRule>(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant)
        where TRule : struct, IWideningRule
    {
        if (destination.Length < source.Length) ThrowDestinationTooShort(nameof(destination));
        ref ushort input = ref MemoryMarshal.GetReference(source);
        ref float output = ref MemoryMarshal.GetReference(destination);
        int length = source.Length;
        int i = 0;
        if (variant >= KernelVariant.Vector512 && Vector512.IsHardwareAccelerated)
        {
            const int w = 16;
            for (; i + 2 * w <= length; i += 2 * w)
            {
                var bits = Vector512.LoadUnsafe(ref input, (nuint)i);
                TRule.Widen(Vector512.WidenLower(bits)).StoreUnsafe(ref output, (nuint)i);
                TRule.Widen(Vector512.WidenUpper(bits)).StoreUnsafe(ref output, (nuint)(i + w));
            }
        }
        else if (variant >= KernelVariant.Vector256 && Vector256.IsHardwareAccelerated)
        {
            const int w = 8;
            for (; i + 2 * w <= length; i += 2 * w)
            {
                var bits = Vector256.LoadUnsafe(ref input, (nuint)i);
                TRule.Widen(Vector256.WidenLower(bits)).StoreUnsafe(ref output, (nuint)i);
                TRule.Widen(Vector256.WidenUpper(bits)).StoreUnsafe(ref output, (nuint)(i + w));
            }
        }
        else if (variant >= KernelVariant.Vector128 && Vector128.IsHardwareAccelerated)
        {
            const int w = 4;
            for (; i + 2 * w <= length; i += 2 * w)
            {
                var bits = Vector128.LoadUnsafe(ref input, (nuint)i);
                TRule.Widen(Vector128.WidenLower(bits)).StoreUnsafe(ref output, (nuint)i);
                TRule.Widen(Vector128.WidenUpper(bits)).StoreUnsafe(ref output, (nuint)(i + w));
            }
        }
        for (; i < length; i++) Unsafe.Add(ref output, i) = TRule.Widen(Unsafe.Add(ref input, i));
    }

    [DoesNotReturn]
    private static void ThrowDestinationTooShort(string name) =>
        throw new ArgumentException("The destination is shorter than the source.", name);
}
