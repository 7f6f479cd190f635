using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// IEEE float16 bits (<see cref="ushort"/>) → float32, exact and bit-for-bit what <c>(float)half</c> gives: NaN keeps
/// its sign and payload and is made quiet, subnormals become normal float32 values.
/// </summary>
public static class Float16Widening
{
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination) =>
        Widen(source, destination, KernelVariants.Best);

    /// <summary>Into the first source.Length elements of <paramref name="destination"/>; every variant gives identical bits. The spans must not overlap.</summary>
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant) =>
        ConversionLoops.Widen<Float16WideningRule>(source, destination, variant);

    /// <summary>The plain definition, case by case.</summary>
    public static float WidenReference(ushort bits)
    {
        uint sign = (uint)(bits & 0x8000) << 16;
        int exponent = (bits >> 10) & 0x1F;
        uint mantissa = bits & 0x3FFu;
        if (exponent == 0x1F)
            return BitConverter.UInt32BitsToSingle(mantissa == 0 ? sign | 0x7F800000 : sign | 0x7FC00000 | (mantissa << 13));
        if (exponent == 0)
            return BitConverter.UInt32BitsToSingle(sign | BitConverter.SingleToUInt32Bits(mantissa * (1f / (1 << 24))));
        return BitConverter.UInt32BitsToSingle(sign | (uint)(exponent + 112) << 23 | (mantissa << 13));
    }
}

/// <summary>
/// Exponent and mantissa moved into place and re-biased by 112; Inf/NaN re-biased once more to 255; subnormals (and
/// zero) re-biased as if normal with exponent 1 and then corrected by subtracting 2^-14, which the FPU does exactly.
/// </summary>
internal readonly struct Float16WideningRule : IWideningRule
{
    private const uint ShiftedExponent = 0x0F800000;    // 0x7C00 << 13
    private const uint Rebias = 0x38000000;             // (127 − 15) << 23
    private const uint SubnormalRebias = 0x38800000;    // Rebias + 1 << 23; as a float also 2^-14
    private const float SmallestNormal = 6.10351562e-05f;
    private const int AbsoluteInfinity = 0x7F800000;
    private const uint QuietBit = 0x00400000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen(Vector512<uint> bits)
    {
        var shifted = (bits & Vector512.Create(0x7FFFu)) << 13;
        var exponent = shifted & Vector512.Create(ShiftedExponent);
        var normal = shifted + Vector512.Create(Rebias);
        var special = normal + Vector512.Create(Rebias);
        var subnormal = ((shifted + Vector512.Create(SubnormalRebias)).AsSingle() - Vector512.Create(SmallestNormal)).AsUInt32();
        var result = Vector512.ConditionalSelect(Vector512.Equals(exponent, Vector512.Create(ShiftedExponent)), special, normal);
        result = Vector512.ConditionalSelect(Vector512.Equals(exponent, Vector512<uint>.Zero), subnormal, result);
        result |= Vector512.GreaterThan(result.AsInt32(), Vector512.Create(AbsoluteInfinity)).AsUInt32() & Vector512.Create(QuietBit);
        return (result | ((bits & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen(Vector256<uint> bits)
    {
        var shifted = (bits & Vector256.Create(0x7FFFu)) << 13;
        var exponent = shifted & Vector256.Create(ShiftedExponent);
        var normal = shifted + Vector256.Create(Rebias);
        var special = normal + Vector256.Create(Rebias);
        var subnormal = ((shifted + Vector256.Create(SubnormalRebias)).AsSingle() - Vector256.Create(SmallestNormal)).AsUInt32();
        var result = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256.Create(ShiftedExponent)), special, normal);
        result = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256<uint>.Zero), subnormal, result);
        result |= Vector256.GreaterThan(result.AsInt32(), Vector256.Create(AbsoluteInfinity)).AsUInt32() & Vector256.Create(QuietBit);
        return (result | ((bits & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen(Vector128<uint> bits)
    {
        var shifted = (bits & Vector128.Create(0x7FFFu)) << 13;
        var exponent = shifted & Vector128.Create(ShiftedExponent);
        var normal = shifted + Vector128.Create(Rebias);
        var special = normal + Vector128.Create(Rebias);
        var subnormal = ((shifted + Vector128.Create(SubnormalRebias)).AsSingle() - Vector128.Create(SmallestNormal)).AsUInt32();
        var result = Vector128.ConditionalSelect(Vector128.Equals(exponent, Vector128.Create(ShiftedExponent)), special, normal);
        result = Vector128.ConditionalSelect(Vector128.Equals(exponent, Vector128<uint>.Zero), subnormal, result);
        result |= Vector128.GreaterThan(result.AsInt32(), Vector128.Create(AbsoluteInfinity)).AsUInt32() & Vector128.Create(QuietBit);
        return (result | ((bits & Vector128.Create(0x8000u)) << 16)).AsSingle();
    }

    public static float Widen(ushort bits)
    {
        uint shifted = (bits & 0x7FFFu) << 13;
        uint exponent = shifted & ShiftedExponent;
        uint result = exponent == ShiftedExponent ? shifted + 2 * Rebias
            : exponent == 0 ? BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(shifted + SubnormalRebias) - SmallestNormal)
            : shifted + Rebias;
        if ((int)result > AbsoluteInfinity) result |= QuietBit;
        return BitConverter.UInt32BitsToSingle(result | (uint)(bits & 0x8000) << 16);
    }
}
