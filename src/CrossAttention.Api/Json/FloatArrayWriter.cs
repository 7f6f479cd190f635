using System.Buffers;
using System.Text.Json;

namespace CrossAttention.Api.Contracts;

/// <summary>Writes float32 arrays as nested JSON arrays directly from spans.</summary>
internal static class FloatArrayWriter
{
    /// <param name="values">[rows, columns]</param>
    public static void WriteMatrix(Utf8JsonWriter writer, ReadOnlySpan<float> values, int rows, int columns)
    {
        writer.WriteStartArray();
        // A whole row is formatted into one buffer and handed over as one value: per-number writer calls cost as much
        // as the formatting itself.
        byte[] row = ArrayPool<byte>.Shared.Rent(2 + columns * (ShortestFloat32.MaxLength + 1));
        try
        {
            for (int r = 0; r < rows; r++)
            {
                var rowValues = values.Slice(r * columns, columns);
                int length = 0;
                row[length++] = (byte)'[';
                for (int c = 0; c < rowValues.Length; c++)
                {
                    float value = rowValues[c];
                    if (!float.IsFinite(value)) writer.WriteNumberValue(value); // JSON has no such number: the writer says so
                    if (c > 0) row[length++] = (byte)',';
                    length += ShortestFloat32.Format(value, row.AsSpan(length));
                }
                row[length++] = (byte)']';
                writer.WriteRawValue(row.AsSpan(0, length), skipInputValidation: true);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(row);
        }
        writer.WriteEndArray();
    }
}
