namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>What a float becomes when a checkpoint stores it at lower precision.</summary>
internal static class Precision
{
    /// <summary>bfloat16 bits of a finite float, rounded to nearest even (as torch rounds).</summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    /// <summary>The float32 a value reads back as after being stored as <paramref name="dtype"/>.</summary>
    public static float RoundTrip(float value, string dtype) => dtype switch
    {
        "F32" => value,
        "F16" => (float)(Half)value,
        "BF16" => BitConverter.UInt32BitsToSingle((uint)ToBFloat16Bits(value) << 16),
        _ => throw new ArgumentException($"not a float dtype: {dtype}", nameof(dtype)),
    };

    public static float[] RoundTrip(float[] values, string dtype) => values.Select(v => RoundTrip(v, dtype)).ToArray();
}
