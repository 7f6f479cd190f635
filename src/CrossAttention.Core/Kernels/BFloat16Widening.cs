using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>bfloat16 bits (<see cref="ushort"/>) → float32: exact, a 16-bit shift (NaN payloads and signs kept as they are).</summary>
public static class BFloat16Widening
{
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination) =>
        Widen(source, destination, KernelVariants.Best);

    /// <summary>Into the first source.Length elements of <paramref name="destination"/>; every variant gives identical bits. The spans must not overlap.</summary>
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant) =>
        ConversionLoops.Widen<BFloat16WideningRule>(source, destination, variant);

    public static float WidenReference(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}

internal readonly struct BFloat16WideningRule : IWideningRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen(Vector512<uint> bits) => (bits << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen(Vector256<uint> bits) => (bits << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen(Vector128<uint> bits) => (bits << 16).AsSingle();

    public static float Widen(ushort bits) => BFloat16Widening.WidenReference(bits);
}
