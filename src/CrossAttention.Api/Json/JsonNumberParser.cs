using System.Numerics;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// The correctly rounded double of a JSON number, for the numbers requests are made of (up to 19 significant digits,
/// a normal double): the Eisel–Lemire algorithm (Lemire, "Number Parsing at a Gigabyte per Second", 2021), one or two
/// 64×64-bit products against a table of powers of five. Anything else (more digits, subnormal, out of range, the rare
/// product too close to call) returns false and the caller falls back to the BCL parser, so the result is always the
/// BCL's, bit for bit. It exists because parsing dominated the CPU of JSON decode steps.
/// </summary>
internal static class JsonNumberParser
{
    private const int SmallestPowerOfTen = -342;
    private const int LargestPowerOfTen = 308;
    private const int MantissaBits = 52;
    private const int MinimumExponent = -1023;
    private const int InfinitePower = 0x7FF;

    // 5^q for q in [-342, 308] as 128 bits (high, low) with the top bit set: truncated for q ≥ 0, and for q < 0 the
    // reciprocal rounded up. Computed from the definition at start-up rather than typed in.
    private static readonly ulong[] PowersOfFive = BuildPowersOfFive();

    /// <param name="utf8">a number as JSON spells it (already validated by the reader)</param>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out double value)
    {
        value = 0;
        int i = 0;
        bool negative = utf8.Length > 0 && utf8[0] == '-';
        if (negative) i++;

        ulong digits = 0;
        int significant = 0, exponent = 0;
        for (; i < utf8.Length && IsDigit(utf8[i]); i++)
            if (!Accumulate(utf8[i], ref digits, ref significant)) return false;
        if (i < utf8.Length && utf8[i] == '.')
        {
            for (i++; i < utf8.Length && IsDigit(utf8[i]); i++)
            {
                if (!Accumulate(utf8[i], ref digits, ref significant)) return false;
                exponent--;
            }
        }
        if (i < utf8.Length && (utf8[i] | 0x20) == 'e')
        {
            i++;
            bool negativeExponent = i < utf8.Length && utf8[i] == '-';
            if (i < utf8.Length && (utf8[i] == '-' || utf8[i] == '+')) i++;
            int written = 0;
            for (; i < utf8.Length && IsDigit(utf8[i]); i++)
            {
                if (written > 10_000) return false;
                written = written * 10 + (utf8[i] - '0');
            }
            exponent += negativeExponent ? -written : written;
        }
        if (i != utf8.Length) return false;

        if (digits == 0)
        {
            value = negative ? -0.0 : 0.0;
            return true;
        }
        if (exponent is < SmallestPowerOfTen or > LargestPowerOfTen) return false;
        if (!TryComputeBits(exponent, digits, out ulong bits)) return false;
        value = BitConverter.UInt64BitsToDouble(bits | (negative ? 1UL << 63 : 0));
        return true;
    }

    private static bool IsDigit(byte c) => (uint)(c - '0') <= 9;

    /// <summary>Adds one digit; leading zeros are not significant (the exponent still counts fraction digits).</summary>
    private static bool Accumulate(byte c, ref ulong digits, ref int significant)
    {
        if (digits == 0 && c == '0') return true;
        if (significant == 19) return false; // more than a ulong holds exactly: leave it to the BCL
        digits = digits * 10 + (uint)(c - '0');
        significant++;
        return true;
    }

    /// <summary>The bits (without sign) of digits·10^q rounded to nearest even, when it is a normal double.</summary>
    private static bool TryComputeBits(int q, ulong w, out ulong bits)
    {
        bits = 0;
        int leadingZeros = BitOperations.LeadingZeroCount(w);
        w <<= leadingZeros;

        int index = 2 * (q - SmallestPowerOfTen);
        ulong high = Math.BigMul(w, PowersOfFive[index], out ulong low);
        const ulong precisionMask = ulong.MaxValue >> (MantissaBits + 3);
        if ((high & precisionMask) == precisionMask)
        {
            // The bits that decide rounding are all ones: the next 64 bits of the power may carry into them.
            ulong secondHigh = Math.BigMul(w, PowersOfFive[index + 1], out _);
            low += secondHigh;
            if (secondHigh > low) high++;
            if (low == ulong.MaxValue && q is < -27 or > 55) return false; // still undecided
        }

        int upperBit = (int)(high >> 63);
        int shift = upperBit + 64 - MantissaBits - 3;
        ulong mantissa = high >> shift;
        int power2 = (((152170 + 65536) * q) >> 16) + 63 + upperBit - leadingZeros - MinimumExponent;
        if (power2 <= 0) return false; // subnormal: rare, leave it to the BCL

        // Exactly halfway between two doubles (possible only for small |q|): round to even, not up.
        if (low <= 1 && q is >= -4 and <= 23 && (mantissa & 3) == 1 && (mantissa << shift) == high)
            mantissa &= ~1UL;
        mantissa += mantissa & 1;
        mantissa >>= 1;
        if (mantissa >= 2UL << MantissaBits)
        {
            mantissa = 1UL << MantissaBits;
            power2++;
        }
        mantissa &= ~(1UL << MantissaBits);
        if (power2 >= InfinitePower) return false;
        bits = ((ulong)power2 << MantissaBits) | mantissa;
        return true;
    }

    private static ulong[] BuildPowersOfFive()
    {
        var table = new ulong[2 * (LargestPowerOfTen - SmallestPowerOfTen + 1)];
        var two128 = BigInteger.One << 128;
        for (int q = SmallestPowerOfTen; q <= LargestPowerOfTen; q++)
        {
            BigInteger value;
            if (q < 0)
            {
                var power = BigInteger.Pow(5, -q);
                int z = (int)(power - 1).GetBitLength(); // smallest z with 2^z ≥ 5^-q
                int b = q >= -27 ? z + 127 : 2 * z + 128;
                value = (BigInteger.One << b) / power + 1;
                while (value >= two128) value >>= 1;
            }
            else
            {
                value = BigInteger.Pow(5, q);
                int length = (int)value.GetBitLength();
                value = length <= 128 ? value << (128 - length) : value >> (length - 128);
            }
            int index = 2 * (q - SmallestPowerOfTen);
            table[index] = (ulong)(value >> 64);
            table[index + 1] = (ulong)(value & ulong.MaxValue);
        }
        return table;
    }
}
