using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Auth;

/// <summary>The configured keys as SHA-256 digests; finds the one a presented key hashes to, in constant time.</summary>
public sealed class ApiKeyRing
{
    /// <summary>Longer presented keys are refused unhashed (a configured key is a short random string).</summary>
    public const int MaxKeyLength = 512;

    private readonly (string Name, byte[] Digest)[] _keys;

    public ApiKeyRing(IOptions<AuthOptions> options) =>
        _keys = options.Value.ApiKeys.Select(k => (k.Name, Convert.FromHexString(k.Sha256))).ToArray();

    public bool Enabled => _keys.Length > 0;

    /// <summary>
    /// The name of the key whose digest matches. Every configured digest is compared, each with
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>, so the time taken says nothing about which bytes matched.
    /// </summary>
    public bool TryFind(ReadOnlySpan<char> presented, out string name)
    {
        name = "";
        if (presented.IsEmpty || presented.Length > MaxKeyLength) return false;
        Span<byte> utf8 = stackalloc byte[MaxKeyLength * 3];
        int length = Encoding.UTF8.GetBytes(presented, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        bool found = false;
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, key.Digest))
            {
                name = key.Name;
                found = true;
            }
        }
        return found;
    }
}
