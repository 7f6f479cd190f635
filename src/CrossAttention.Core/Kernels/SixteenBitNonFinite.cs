using System.Numerics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// Finds ±Inf and NaN among 16-bit floats (float16 or bfloat16) by their exponent bits: all ones in both formats.
/// One scan for the K/V cache's check and the float16 weights' check.
/// </summary>
internal static class SixteenBitNonFinite
{
    public const ushort Float16Exponent = 0x7C00;
    public const ushort BFloat16Exponent = 0x7F80;

    /// <summary>Whether any element has every bit of <paramref name="exponent"/> set.</summary>
    public static bool Any(ReadOnlySpan<ushort> elements, ushort exponent)
    {
        var mask = new Vector<ushort>(exponent);
        int i = 0;
        for (; i + Vector<ushort>.Count <= elements.Length; i += Vector<ushort>.Count)
            if (Vector.EqualsAny(new Vector<ushort>(elements[i..]) & mask, mask)) return true;
        for (; i < elements.Length; i++)
            if ((elements[i] & exponent) == exponent) return true;
        return false;
    }
}
