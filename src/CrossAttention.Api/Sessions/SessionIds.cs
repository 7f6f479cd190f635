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
}
