using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace CrossAttention.Api.Tests.Support;

/// <summary>The app with API keys configured (only their SHA-256 in the settings, as in production).</summary>
public class KeyedApiFactory : ApiFactory
{
    public const string TeamA = "team-a";
    public const string TeamB = "team-b";

    /// <summary>The plain keys, by name; the app sees only their hashes.</summary>
    public static readonly IReadOnlyDictionary<string, string> Keys = new Dictionary<string, string>
    {
        [TeamA] = "tk_a_Jx3vQ9mWc2LrT7yZpK5nB8",
        [TeamB] = "tk_b_Hs4eU1oXf6GdV0aRqN2wM9",
    };

    public KeyedApiFactory()
    {
        int i = 0;
        foreach (var (name, key) in Keys) AddKey(Settings, i++, name, key);
    }

    public static void AddKey(Dictionary<string, string?> settings, int index, string name, string key)
    {
        settings[$"CrossAttention:Auth:ApiKeys:{index}:Name"] = name;
        settings[$"CrossAttention:Auth:ApiKeys:{index}:Sha256"] = Sha256(key);
    }

    public static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A client sending this key as a Bearer token.</summary>
    public HttpClient ClientFor(string name)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Keys[name]);
        return client;
    }
}
