using System.Buffers.Text;
using System.Security.Cryptography;

namespace CrossAttention.Api.Sessions;

public static class SessionIds
{
    /// <summary>128 random bits from the OS's CSPRNG, base64url without padding (22 characters, URL-safe).</summary>
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>What a client-chosen id may look like: 16 to 128 URL-safe characters.</summary>
    public static bool IsWellFormed(string id) =>
        id.Length is >= 16 and <= 128 && !id.AsSpan().ContainsAnyExcept(UrlSafe);

    private static readonly System.Buffers.SearchValues<char> UrlSafe =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}
