using System.Net.Http.Headers;
using System.Text;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>
/// Many broken bodies against every endpoint that takes one: each gets a 4xx problem+json, never a 5xx, and a session
/// that exists keeps answering the same.
/// </summary>
public class MalformedInputTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private static IEnumerable<(string Body, string ContentType)> BrokenBodies(string valid)
    {
        var random = new Random(20261128);
        // Every prefix of a valid body (unterminated JSON at each position).
        for (int cut = 0; cut < valid.Length; cut += Math.Max(1, valid.Length / 40)) yield return (valid[..cut], "application/json");
        // Single-character corruptions.
        const string noise = "{}[],:\"0-e.1aZ \\\u0000\u00ff";
        for (int i = 0; i < 40; i++)
        {
            var chars = valid.ToCharArray();
            chars[random.Next(chars.Length)] = noise[random.Next(noise.Length)];
            yield return (new string(chars), "application/json");
        }
        // Wrong shapes and types in otherwise well-formed JSON.
        foreach (string body in new[]
        {
            "[]", "{}", "0", "\"text\"", "{\"model\":5}", "{\"layer\":\"zero\"}", "{\"queries\":{}}", "{\"source\":[1,2,3]}",
            "{\"source\":[[]]}", "{\"queries\":[[null]]}", "{\"sourceMask\":\"1,0\"}", "{\"ttlSeconds\":1e99}",
            "{\"layer\":2147483648}", "{\"returnAttention\":\"yes\"}", new string('[', 5000) + new string(']', 5000),
        })
            yield return (body, "application/json");
        // Random bytes, declared as JSON and as raw float32.
        for (int i = 0; i < 10; i++)
        {
            var bytes = new byte[random.Next(1, 600)];
            random.NextBytes(bytes);
            yield return (Encoding.Latin1.GetString(bytes), i % 2 == 0 ? "application/json" : "application/octet-stream");
        }
    }

    [Fact]
    public async Task NoBrokenBodyGetsA5xxOrChangesASession()
    {
        var encoded = await (await _client.PostAsync("/encode", Json.Body(new { model = "demo", source = Json.Rows(3, 64, 1) }))).ReadObjectAsync();
        string id = encoded["sessionId"]!.GetValue<string>();
        var probe = Json.Body(new { layer = 1, queries = Json.Rows(1, 64, 2), returnAttention = true });
        string before = await (await _client.PostAsync($"/sessions/{id}/decode-step", probe)).Content.ReadAsStringAsync();

        string row = "[" + string.Join(",", Enumerable.Repeat("0.25", 64)) + "]";
        var targets = new (string Url, string Valid)[]
        {
            ("/encode", $$"""{"model":"demo","source":[{{row}},{{row}}],"sourceMask":[1,0],"ttlSeconds":60}"""),
            ("/encode?model=demo&rows=2", ""),
            ($"/sessions/{id}/decode-step", $$"""{"layer":0,"queries":[{{row}}],"returnAttention":true}"""),
            ($"/sessions/{id}/decode-step?layer=0&rows=1", ""),
            ("/decode-step", $$"""{"sessionId":"{{id}}","layer":0,"queries":[{{row}}]}"""),
            ("/attention", $$"""{"model":"demo","layer":0,"source":[{{row}}],"queries":[{{row}}]}"""),
        };
        int sent = 0;
        foreach (var (url, valid) in targets)
        {
            foreach (var (body, contentType) in BrokenBodies(valid.Length > 0 ? valid : "{\"x\":1}"))
            {
                var content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
                content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                var response = await _client.PostAsync(url, content);
                int status = (int)response.StatusCode;
                Assert.True(status < 500, $"{url} answered {status} to {contentType} body «{body[..Math.Min(body.Length, 80)]}»");
                if (status >= 400)
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                sent++;
            }
        }
        Assert.True(sent > 300);

        probe = Json.Body(new { layer = 1, queries = Json.Rows(1, 64, 2), returnAttention = true });
        string after = await (await _client.PostAsync($"/sessions/{id}/decode-step", probe)).Content.ReadAsStringAsync();
        Assert.Equal(before, after);
    }
}
