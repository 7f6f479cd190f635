namespace CrossAttention.Core.Safetensors;

/// <summary>One header entry: where a tensor's bytes lie in the data region, and what they hold.</summary>
/// <param name="DataBegin">offset of the first byte, relative to the start of the data region</param>
/// <param name="DataEnd">offset one past the last byte</param>
public sealed record SafetensorsTensorInfo(string Name, string DType, long[] Shape, long DataBegin, long DataEnd)
{
    public int Rank => Shape.Length;

    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long d in Shape) count = checked(count * d);
            return count;
        }
    }

    public long ByteLength => DataEnd - DataBegin;

    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
