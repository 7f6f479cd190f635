using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace CrossAttention.Core.Safetensors;

/// <summary>Little-endian F32 / F16 / BF16 bytes to float32.</summary>
public static class SafetensorsConvert
{
    /// <param name="bytes">[count · element size], little-endian, any alignment</param>
    /// <param name="destination">[count]</param>
    public static void ToSingle(string dtype, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Safetensors data is little-endian; this reader assumes a little-endian CPU.");
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), destination);
                break;
            case SafetensorsDType.BF16:
                // bfloat16 is the top half of a float32: widen to 32 bits, then move it up.
                Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
                TensorPrimitives.ConvertTruncating<ushort, uint>(MemoryMarshal.Cast<byte, ushort>(bytes), bits);
                TensorPrimitives.ShiftLeft<uint>(bits, 16, bits);
                break;
            default:
                throw new ArgumentException($"dtype {dtype} does not convert to float32.", nameof(dtype));
        }
    }
}
