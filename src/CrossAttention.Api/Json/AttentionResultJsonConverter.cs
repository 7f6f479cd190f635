using System.Text.Json;
using System.Text.Json.Serialization;

namespace CrossAttention.Api.Contracts;

/// <summary>Writes { "output": [[…]], "attention": [[[…]]] } straight from the flat buffers.</summary>
public sealed class AttentionResultJsonConverter : JsonConverter<AttentionResult>
{
    public override AttentionResult Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("AttentionResult is a response type.");

    public override void Write(Utf8JsonWriter writer, AttentionResult value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("output");
        FloatArrayWriter.WriteMatrix(writer, value.Output, value.Queries, value.QueryDim);
        if (value.Attention is { } attention)
        {
            writer.WritePropertyName("attention");
            writer.WriteStartArray();
            int block = value.Queries * value.SourceLength;
            for (int h = 0; h < value.Heads; h++)
                FloatArrayWriter.WriteMatrix(writer, attention.AsSpan(h * block, block), value.Queries, value.SourceLength);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }
}
