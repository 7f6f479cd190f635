using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// float32 → IEEE float16 bits (<see cref="Half"/>'s bits as <see cref="ushort"/>), rounded to nearest, ties to even,
/// bit-for-bit what <c>(Half)value</c> gives: NaN keeps its sign and top 10 payload bits and is made quiet; ±Inf
/// stays; from 65520 up (the tie between 65504 and the next, even, step) a value becomes ±Inf; below 2^-14 results are
/// float16 subnormals, rounded the same way.
/// </summary>
/// <remarks>
/// .NET 10 has no public F16C intrinsics. <c>TensorPrimitives.ConvertToHalf</c> gives the same bits (the tests check
/// it) but picks its own width; these paths exist so every width can be tested and used inside kernels.
/// </remarks>
public static class Float16Narrowing
{
    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination) =>
        Narrow(source, destination, KernelVariants.Best);

    /// <summary>Into the first source.Length elements of <paramref name="destination"/>; every variant gives identical bits. The spans must not overlap.</summary>
    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant) =>
        ConversionLoops.Narrow<Float16NarrowingRule>(source, destination, variant);

    /// <summary>The plain definition, case by case, with the rounding written as a comparison with the halfway point.</summary>
    public static ushort NarrowReference(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 16) & 0x8000;
        uint magnitude = bits & 0x7FFFFFFF;
        if (magnitude > 0x7F800000) return (ushort)(sign | 0x7E00 | ((magnitude >> 13) & 0x3FF));
        if (magnitude >= 0x477FF000) return (ushort)(sign | 0x7C00);   // ≥ 65520 (including Inf)

        int exponent = (int)(magnitude >> 23) - 127;
        uint significand = (magnitude & 0x7FFFFF) | 0x800000;
        // A float16 normal keeps 10 of the 23 mantissa bits; a subnormal counts units of 2^-24, so it keeps fewer.
        int dropped = exponent >= -14 ? 13 : -(exponent + 1);
        if (dropped > 24) return (ushort)sign;   // below 2^-25, float32 subnormals and zero included
        uint kept = significand >> dropped;
        uint remainder = significand & ((1u << dropped) - 1);
        uint halfway = 1u << (dropped - 1);
        uint result = exponent >= -14 ? (uint)((exponent + 15) << 10) | (kept & 0x3FF) : kept;
        // A carry out of the mantissa is the next binade (or Inf), as it should be.
        if (remainder > halfway || (remainder == halfway && (result & 1) != 0)) result++;
        return (ushort)(sign | result);
    }
}

/// <summary>
/// Per lane, all three cases and a select: normal results re-bias the exponent and round by adding 0xFFF plus the
/// lowest kept bit before dropping 13 bits (a carry out lands on the next binade, 65520 and up on Inf); subnormal
/// results let the FPU round, by adding 0.5 (whose ulp is 2^-24, the float16 subnormal step) and reading the low bits.
/// </summary>
internal readonly struct Float16NarrowingRule : INarrowingRule
{
    private const int SmallestNormal = 0x38800000;     // 2^-14
    private const int Overflow = 0x47800000;           // 65536: from here on the normal path would not reach Inf
    private const int AbsoluteInfinity = 0x7F800000;
    private const uint Rebias = 0x38000000;            // (127 − 15) << 23
    private const float SubnormalMagic = 0.5f;
    private const uint SubnormalMagicBits = 0x3F000000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ushort> Narrow(Vector512<float> lower, Vector512<float> upper) =>
        Vector512.Narrow(Round(lower), Round(upper));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> Narrow(Vector256<float> lower, Vector256<float> upper) =>
        Vector256.Narrow(Round(lower), Round(upper));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> Narrow(Vector128<float> lower, Vector128<float> upper) =>
        Vector128.Narrow(Round(lower), Round(upper));

    public static ushort Narrow(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint magnitude = bits & 0x7FFFFFFF;
        uint result;
        if (magnitude > AbsoluteInfinity) result = 0x7E00 | ((magnitude >> 13) & 0x3FF);
        else if (magnitude >= Overflow) result = 0x7C00;
        else if (magnitude < SmallestNormal)
            result = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(magnitude) + SubnormalMagic) - SubnormalMagicBits;
        else result = (magnitude - Rebias + 0xFFF + ((magnitude >> 13) & 1)) >> 13;
        return (ushort)(((bits >> 16) & 0x8000) | result);
    }

    // Per 32-bit lane: the float16 bits in the low half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var magnitude = bits & Vector512.Create(0x7FFFFFFFu);
        var normal = (magnitude - Vector512.Create(Rebias) + Vector512.Create(0xFFFu) + ((magnitude >>> 13) & Vector512<uint>.One)) >>> 13;
        var subnormal = (magnitude.AsSingle() + Vector512.Create(SubnormalMagic)).AsUInt32() - Vector512.Create(SubnormalMagicBits);
        var nan = Vector512.Create(0x7E00u) | ((magnitude >>> 13) & Vector512.Create(0x3FFu));
        var m = magnitude.AsInt32();
        var result = Vector512.ConditionalSelect(Vector512.LessThan(m, Vector512.Create(SmallestNormal)).AsUInt32(), subnormal, normal);
        result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(m, Vector512.Create(Overflow)).AsUInt32(), Vector512.Create(0x7C00u), result);
        result = Vector512.ConditionalSelect(Vector512.GreaterThan(m, Vector512.Create(AbsoluteInfinity)).AsUInt32(), nan, result);
        return result | ((bits >>> 16) & Vector512.Create(0x8000u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var magnitude = bits & Vector256.Create(0x7FFFFFFFu);
        var normal = (magnitude - Vector256.Create(Rebias) + Vector256.Create(0xFFFu) + ((magnitude >>> 13) & Vector256<uint>.One)) >>> 13;
        var subnormal = (magnitude.AsSingle() + Vector256.Create(SubnormalMagic)).AsUInt32() - Vector256.Create(SubnormalMagicBits);
        var nan = Vector256.Create(0x7E00u) | ((magnitude >>> 13) & Vector256.Create(0x3FFu));
        var m = magnitude.AsInt32();
        var result = Vector256.ConditionalSelect(Vector256.LessThan(m, Vector256.Create(SmallestNormal)).AsUInt32(), subnormal, normal);
        result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(m, Vector256.Create(Overflow)).AsUInt32(), Vector256.Create(0x7C00u), result);
        result = Vector256.ConditionalSelect(Vector256.GreaterThan(m, Vector256.Create(AbsoluteInfinity)).AsUInt32(), nan, result);
        return result | ((bits >>> 16) & Vector256.Create(0x8000u));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Round(Vector128<float> value)
    {
        var bits = value.AsUInt32();
        var magnitude = bits & Vector128.Create(0x7FFFFFFFu);
        var normal = (magnitude - Vector128.Create(Rebias) + Vector128.Create(0xFFFu) + ((magnitude >>> 13) & Vector128<uint>.One)) >>> 13;
        var subnormal = (magnitude.AsSingle() + Vector128.Create(SubnormalMagic)).AsUInt32() - Vector128.Create(SubnormalMagicBits);
        var nan = Vector128.Create(0x7E00u) | ((magnitude >>> 13) & Vector128.Create(0x3FFu));
        var m = magnitude.AsInt32();
        var result = Vector128.ConditionalSelect(Vector128.LessThan(m, Vector128.Create(SmallestNormal)).AsUInt32(), subnormal, normal);
        result = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(m, Vector128.Create(Overflow)).AsUInt32(), Vector128.Create(0x7C00u), result);
        result = Vector128.ConditionalSelect(Vector128.GreaterThan(m, Vector128.Create(AbsoluteInfinity)).AsUInt32(), nan, result);
        return result | ((bits >>> 16) & Vector128.Create(0x8000u));
    }
}
