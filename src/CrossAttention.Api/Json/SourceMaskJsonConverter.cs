using System.Text.Json;
using System.Text.Json.Serialization;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// Reads a source mask [1, 1, 0, …], refusing it at the entry past Limits:MaxSourceLength (a mask longer than any
/// source can only be refused); the values themselves are checked by validation, which names the entry.
/// </summary>
public sealed class SourceMaskJsonConverter : JsonConverter<int[]>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an array of 1 (keep) and 0 (padding).");
        int maxLength = JsonReadLimits.Current?.MaxMaskLength ?? int.MaxValue;
        var values = new List<int>();
        while (true)
        {
            if (!reader.Read()) throw new JsonException("unexpected end of the mask.");
            if (reader.TokenType == JsonTokenType.EndArray) break;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int value))
                throw new JsonException($"entry {values.Count} is not an integer; entries must be 1 (keep) or 0 (padding).");
            if (values.Count == maxLength)
                throw new BodyLimitException($"has more than {maxLength} entries; a source has at most {maxLength} rows (Limits:MaxSourceLength).");
            values.Add(value);
        }
        return [.. values];
    }

    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value);
}
