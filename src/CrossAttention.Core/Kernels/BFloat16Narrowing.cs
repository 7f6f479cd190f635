using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// float32 → bfloat16 (the upper 16 bits of a float32, kept as <see cref="ushort"/>: .NET 10 has no bfloat16 type and
/// no public BF16 conversion intrinsics), rounded to nearest, ties to even. NaN stays a NaN of the same sign with its
/// top payload bits, made quiet; ±Inf stays; a finite value becomes ±Inf exactly when round-to-nearest-even says so.
/// </summary>
/// <remarks>
/// Bit manipulation on every width: in .NET 10, Avx10v1 and Avx10v2 are public but carry no BF16 conversions, and
/// Avx512Bf16 is not exposed, so the CPU's vcvtneps2bf16 cannot be reached.
/// </remarks>
public static class BFloat16Narrowing
{
    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination) =>
        Narrow(source, destination, KernelVariants.Best);

    /// <summary>Into the first source.Length elements of <paramref name="destination"/>; every variant gives identical bits. The spans must not overlap.</summary>
    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant) =>
        ConversionLoops.Narrow<BFloat16NarrowingRule>(source, destination, variant);

    /// <summary>The plain definition: keep the upper half, round up when the dropped half is above 0x8000, or exactly 0x8000 next to an odd kept half.</summary>
    public static ushort NarrowReference(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint kept = bits >> 16;
        if (float.IsNaN(value)) return (ushort)(kept | BFloat16NarrowingRule.QuietBit);
        uint dropped = bits & 0xFFFF;
        if (dropped > 0x8000 || (dropped == 0x8000 && (kept & 1) != 0)) kept++;
        return (ushort)kept;
    }
}

/// <summary>
/// Adds 0x7FFF plus the lowest kept bit and drops the low half: a dropped half above 0x8000 carries, one of exactly
/// 0x8000 carries only into an odd kept half, and a carry out of the mantissa lands on the next binade (up to Inf).
/// NaN lanes are selected apart, since that carry would turn a NaN with only low payload bits into Inf.
/// </summary>
internal readonly struct BFloat16NarrowingRule : INarrowingRule
{
    internal const uint QuietBit = 0x0040;     // the top mantissa bit of a bfloat16
    private const int AbsoluteInfinity = 0x7F800000;

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
        if ((bits & 0x7FFFFFFF) > AbsoluteInfinity) return (ushort)((bits >> 16) | QuietBit);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    // Per 32-bit lane: the bfloat16 bits in the low half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >>> 16) & Vector512<uint>.One)) >>> 16;
        var isNaN = Vector512.GreaterThan((bits & Vector512.Create(0x7FFFFFFFu)).AsInt32(), Vector512.Create(AbsoluteInfinity)).AsUInt32();
        return Vector512.ConditionalSelect(isNaN, (bits >>> 16) | Vector512.Create(QuietBit), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >>> 16) & Vector256<uint>.One)) >>> 16;
        var isNaN = Vector256.GreaterThan((bits & Vector256.Create(0x7FFFFFFFu)).AsInt32(), Vector256.Create(AbsoluteInfinity)).AsUInt32();
        return Vector256.ConditionalSelect(isNaN, (bits >>> 16) | Vector256.Create(QuietBit), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Round(Vector128<float> value)
    {
        var bits = value.AsUInt32();
        var rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >>> 16) & Vector128<uint>.One)) >>> 16;
        var isNaN = Vector128.GreaterThan((bits & Vector128.Create(0x7FFFFFFFu)).AsInt32(), Vector128.Create(AbsoluteInfinity)).AsUInt32();
        return Vector128.ConditionalSelect(isNaN, (bits >>> 16) | Vector128.Create(QuietBit), rounded);
    }
}
