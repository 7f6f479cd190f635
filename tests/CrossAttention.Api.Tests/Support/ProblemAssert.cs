using System.Net;
using System.Text.Json.Nodes;

namespace CrossAttention.Api.Tests.Support;

public static class ProblemAssert
{
    /// <summary>Asserts an RFC 7807 problem response with this status; returns its body.</summary>
    public static async Task<JsonObject> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()));
        return problem;
    }

    /// <summary>Asserts a 400 validation problem naming this field, whose message contains the fragment.</summary>
    public static async Task<JsonObject> IsValidationErrorAsync(HttpResponseMessage response, string field, string fragment)
    {
        var problem = await IsProblemAsync(response, HttpStatusCode.BadRequest);
        var messages = problem["errors"]?[field]?.AsArray().Select(m => m!.GetValue<string>()).ToArray();
        Assert.True(messages is { Length: > 0 }, $"no error for '{field}' in {problem.ToJsonString()}");
        Assert.Contains(messages, m => m.Contains(fragment, StringComparison.OrdinalIgnoreCase));
        return problem;
    }
}
