using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrossAttention.Api.Infrastructure;

// The JSON wire form of the contracts: in its own folder, in the contracts' namespace (a CrossAttention.Api.Json
// namespace would hide every `Json` helper class under CrossAttention.Api).
namespace CrossAttention.Api.Contracts;

/// <summary>
/// Reads [[f, f, …], …] straight into a pooled float buffer: no boxing, no per-row arrays. Ragged rows and values
/// outside float32 are recorded (not thrown) so validation can name the field and row.
/// </summary>
public sealed class FloatMatrixJsonConverter : JsonConverter<FloatMatrix>
{
    private const int InitialCapacity = 1024;
    private const string ParsingWhat = "parsing the body's matrix";

    public override FloatMatrix Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an array of rows (an array of arrays of numbers).");
        var limits = JsonReadLimits.Current;
        int maxRows = limits?.MaxRows ?? int.MaxValue, maxWidth = limits?.MaxRowWidth ?? int.MaxValue;
        byte[] buffer = RequestBuffers.Rent(InitialCapacity * sizeof(float), limits?.Reservation, ParsingWhat);
        Span<float> values = MemoryMarshal.Cast<byte, float>(buffer.AsSpan());
        int count = 0, rows = 0, columns = -1;
        RowProblem? problem = null;
        try
        {
            while (true)
            {
                if (!reader.Read()) throw new JsonException("unexpected end of the matrix.");
                if (reader.TokenType == JsonTokenType.EndArray) break;
                if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"row {rows} is not an array of numbers.");
                if (rows == maxRows) throw new BodyLimitException($"has more than {maxRows} rows, the most this endpoint takes ({limits!.RowsKey}).");
                int rowLength = 0;
                while (true)
                {
                    if (!reader.Read()) throw new JsonException("unexpected end of a row.");
                    if (reader.TokenType == JsonTokenType.EndArray) break;
                    if (reader.TokenType != JsonTokenType.Number) throw new JsonException($"row {rows}, column {rowLength} is not a number.");
                    float value = ReadFloat32(ref reader, out bool finite);
                    if (!finite) problem ??= new RowProblem(rows, $"row {rows}, column {rowLength} is not a finite float32 ({reader.RawText()}).");
                    if (rowLength == maxWidth)
                        throw new BodyLimitException($"row {rows} has more than {maxWidth} values, the widest row any served model takes.");
                    if (count == values.Length)
                    {
                        buffer = Grow(buffer, limits);
                        values = MemoryMarshal.Cast<byte, float>(buffer.AsSpan());
                    }
                    values[count++] = value;
                    rowLength++;
                }
                if (columns < 0) columns = rowLength;
                else if (rowLength != columns)
                    problem ??= new RowProblem(rows, $"row {rows} has {rowLength} values, row 0 has {columns}: rows must all have the same length.");
                rows++;
            }
        }
        catch
        {
            RequestBuffers.Return(buffer, limits?.Reservation);
            throw;
        }
        return new FloatMatrix(buffer, count, rows, Math.Max(columns, 0), problem);
    }

    public override void Write(Utf8JsonWriter writer, FloatMatrix value, JsonSerializerOptions options) =>
        FloatArrayWriter.WriteMatrix(writer, value.Values, value.Rows, value.Columns);

    private static float ReadFloat32(ref Utf8JsonReader reader, out bool finite)
    {
        // Parse as double so that 1e39 is seen as out of float32 range rather than silently becoming infinity.
        // The fast path gives the BCL's double bit for bit, or declines.
        if ((reader.HasValueSequence || !JsonNumberParser.TryParse(reader.ValueSpan, out double d)) && !reader.TryGetDouble(out d))
        {
            finite = false;
            return 0;
        }
        finite = double.IsFinite(d) && Math.Abs(d) <= float.MaxValue;
        return finite ? (float)d : 0;
    }

    /// <summary>Doubles the buffer; the new one is reserved before it exists, the old one's bytes are released after.</summary>
    private static byte[] Grow(byte[] buffer, JsonReadLimits? limits)
    {
        if (buffer.Length >= Array.MaxLength) throw new JsonException("the matrix is too large.");
        int length = (int)Math.Min(buffer.Length * 2L, Array.MaxLength);
        byte[] bigger = RequestBuffers.Rent(length, limits?.Reservation, ParsingWhat);
        buffer.AsSpan().CopyTo(bigger);
        RequestBuffers.Return(buffer, limits?.Reservation);
        return bigger;
    }
}

internal static class Utf8JsonReaderText
{
    /// <summary>The raw text of the current number token, for error messages.</summary>
    public static string RawText(this ref Utf8JsonReader reader) =>
        System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
}
