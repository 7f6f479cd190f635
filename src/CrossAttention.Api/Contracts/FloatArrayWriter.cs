using System.Text.Json;

namespace CrossAttention.Api.Contracts;

/// <summary>Writes float32 arrays as nested JSON arrays directly from spans.</summary>
internal static class FloatArrayWriter
{
    /// <param name="values">[rows, columns]</param>
    public static void WriteMatrix(Utf8JsonWriter writer, ReadOnlySpan<float> values, int rows, int columns)
    {
        writer.WriteStartArray();
        for (int r = 0; r < rows; r++)
        {
            writer.WriteStartArray();
            foreach (float v in values.Slice(r * columns, columns)) writer.WriteNumberValue(v);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }
}
