using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace CrossAttention.Api.Sessions;

public static class SessionIds
{
    public const int MinLength = 16;
    public const int MaxLength = 128;

    /// <summary>Fewer different characters than this is a pattern, not randomness ('abababab…').</summary>
    public const int MinDistinctCharacters = 8;

    /// <summary>Longest allowed stretch of characters stepping evenly: repeats ('aaaa'), counting ('0123', 'abcd'), strides ('aceg').</summary>
    public const int MaxEvenStretch = 6;

    /// <summary>
    /// What a client-chosen id must look like, said to the client. A base64url string of 128 random bits (22 characters)
    /// fails it with probability below 2·10⁻⁸: at most 16 places where a stretch of 7 could start, each needing 5
    /// characters pinned by the 2 before them (64⁻⁵), and fewer than 8 distinct characters among 21 is ~4·10⁻¹².
    /// </summary>
    public const string Rule = "must be 16 to 128 characters of A-Z, a-z, 0-9, '-' and '_', look random (at least 8 different " +
        "characters, no more than 6 in a row stepping evenly such as 'aaaaaaa', 'abcdefg' or '0123456'): use 128 random bits, " +
        "base64url (22 characters).";

    /// <summary>128 random bits from the OS's CSPRNG, base64url without padding (22 characters, URL-safe).</summary>
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>
    /// Whether a client-chosen id follows <see cref="Rule"/>: URL-safe and not too short or too regular to be random, so
    /// that without API keys (where anyone who learns an id can use the session) ids are at least not guessable patterns.
    /// </summary>
    public static bool IsWellFormed(string id) =>
        id.Length is >= MinLength and <= MaxLength && !id.AsSpan().ContainsAnyExcept(UrlSafe)
        && DistinctCharacters(id) >= MinDistinctCharacters && LongestEvenStretch(id) <= MaxEvenStretch;

    private static int DistinctCharacters(string id)
    {
        Span<bool> seen = stackalloc bool[128];
        int distinct = 0;
        foreach (char c in id)
        {
            if (seen[c]) continue;
            seen[c] = true;
            distinct++;
        }
        return distinct;
    }

    /// <summary>Most consecutive characters whose code points step by one constant (0 for repeats).</summary>
    internal static int LongestEvenStretch(string id)
    {
        if (id.Length < 2) return id.Length;
        int longest = 2, current = 2;
        for (int i = 2; i < id.Length; i++)
        {
            current = id[i] - id[i - 1] == id[i - 1] - id[i - 2] ? current + 1 : 2;
            longest = Math.Max(longest, current);
        }
        return longest;
    }

    private static readonly SearchValues<char> UrlSafe =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}
