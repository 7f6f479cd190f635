using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CrossAttention.Api.Tests.Support;

public static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static float[][] Rows(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows)
            .Select(_ => Enumerable.Range(0, columns).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray())
            .ToArray();
    }

    public static StringContent Body(object value) => new(JsonSerializer.Serialize(value, Options), System.Text.Encoding.UTF8, "application/json");

    public static StringContent Raw(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    public static async Task<JsonObject> ReadObjectAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonObject>(Options))!;

    public static float[][] Matrix(JsonNode? node) =>
        node!.AsArray().Select(r => r!.AsArray().Select(v => v!.GetValue<float>()).ToArray()).ToArray();

    public static JsonArray ReadArray(string text) => JsonNode.Parse(text)!.AsArray();

    public static float[][][] Tensor3(JsonNode? node) => node!.AsArray().Select(Matrix).ToArray();
}