using System.Numerics;
using System.Runtime.CompilerServices;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// Writes a finite float32 as the shortest decimal that reads back as the same float32, byte for byte as
/// <c>float.ToString("R", InvariantCulture)</c> writes it, in less time (JsonFloatBenchmarks): the digits come from Ryu
/// (Ulf Adams, PLDI 2018), which needs only integer multiplies and no intermediate digit buffer; the BCL formatter
/// goes through Grisu (Dragon4 when it fails) into a general number buffer, then lays that out. JSON responses are mostly float32 (a step's output, and [heads, n, m] attention weights), so this is the
/// cost of the JSON form.
/// </summary>
internal static class ShortestFloat32
{
    /// <summary>Longest output: "-1.2345678E-38".</summary>
    public const int MaxLength = 15;

    private const int MantissaBits = 23;
    private const int ExponentBias = 127;
    private const int Pow5InverseBitCount = 59;
    private const int Pow5BitCount = 61;

    // 2^k / 5^q rounded up, and 5^i cut to its top 61 bits: the scaled powers of five Ryu multiplies by. Computed from
    // their definitions (not typed in) so that a wrong table entry cannot hide.
    private static readonly ulong[] Pow5InverseSplit = BuildInverseTable(31);
    private static readonly ulong[] Pow5Split = BuildTable(47);

    /// <summary>Writes <paramref name="value"/> (finite) and returns the bytes written (at most <see cref="MaxLength"/>).</summary>
    public static int Format(float value, Span<byte> destination)
    {
        if (destination.Length < MaxLength) ThrowDestinationTooShort();
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bool negative = (bits >> 31) != 0;
        uint ieeeMantissa = bits & ((1u << MantissaBits) - 1);
        uint ieeeExponent = (bits >> MantissaBits) & 0xFF;
        if (ieeeExponent == 0xFF) ThrowNotFinite(value);

        int length = 0;
        if (negative) destination[length++] = (byte)'-';
        if (ieeeExponent == 0 && ieeeMantissa == 0)
        {
            destination[length++] = (byte)'0';
            return length;
        }
        var (digits, exponent) = ShortestDigits(ieeeMantissa, ieeeExponent);
        return length + Layout(digits, exponent, destination[length..]);
    }

    /// <summary>The shortest digits d (no trailing zeros needed) and exponent e with d·10^e inside the value's rounding interval.</summary>
    private static (uint Digits, int Exponent) ShortestDigits(uint ieeeMantissa, uint ieeeExponent)
    {
        int e2;
        uint m2;
        if (ieeeExponent == 0)
        {
            e2 = 1 - ExponentBias - MantissaBits - 2;
            m2 = ieeeMantissa;
        }
        else
        {
            e2 = (int)ieeeExponent - ExponentBias - MantissaBits - 2;
            m2 = (1u << MantissaBits) | ieeeMantissa;
        }
        bool acceptBounds = (m2 & 1) == 0; // round-half-even: an even mantissa owns its interval's ends

        // The value and its interval's ends, times 4: mv = 4·m2, mp = upper end, mm = lower end (closer below a power of 2).
        uint mv = 4 * m2;
        uint mp = 4 * m2 + 2;
        uint mmShift = ieeeMantissa != 0 || ieeeExponent <= 1 ? 1u : 0u;
        uint mm = 4 * m2 - 1 - mmShift;

        uint vr, vp, vm;
        int e10;
        bool vmIsTrailingZeros = false, vrIsTrailingZeros = false;
        uint lastRemovedDigit = 0;
        if (e2 >= 0)
        {
            int q = Log10Pow2(e2);
            e10 = q;
            int k = Pow5InverseBitCount + Pow5Bits(q) - 1;
            int i = -e2 + q + k;
            vr = MulShift(mv, Pow5InverseSplit[q], i);
            vp = MulShift(mp, Pow5InverseSplit[q], i);
            vm = MulShift(mm, Pow5InverseSplit[q], i);
            if (q != 0 && (vp - 1) / 10 <= vm / 10)
            {
                // The loop below may not run, but the digit it would have removed decides the rounding.
                int l = Pow5InverseBitCount + Pow5Bits(q - 1) - 1;
                lastRemovedDigit = MulShift(mv, Pow5InverseSplit[q - 1], -e2 + q - 1 + l) % 10;
            }
            if (q <= 9)
            {
                // Only one of mp, mv and mm can be a multiple of 5, if any.
                if (mv % 5 == 0) vrIsTrailingZeros = IsMultipleOfPowerOf5(mv, q);
                else if (acceptBounds) vmIsTrailingZeros = IsMultipleOfPowerOf5(mm, q);
                else vp -= IsMultipleOfPowerOf5(mp, q) ? 1u : 0u;
            }
        }
        else
        {
            int q = Log10Pow5(-e2);
            e10 = q + e2;
            int i = -e2 - q;
            int k = Pow5Bits(i) - Pow5BitCount;
            int j = q - k;
            vr = MulShift(mv, Pow5Split[i], j);
            vp = MulShift(mp, Pow5Split[i], j);
            vm = MulShift(mm, Pow5Split[i], j);
            if (q != 0 && (vp - 1) / 10 <= vm / 10)
            {
                j = q - 1 - (Pow5Bits(i + 1) - Pow5BitCount);
                lastRemovedDigit = MulShift(mv, Pow5Split[i + 1], j) % 10;
            }
            if (q <= 1)
            {
                // mv = 4·m2 has at least two trailing zero bits, so vr (= mv·2^… exactly) has q trailing decimal zeros.
                vrIsTrailingZeros = true;
                if (acceptBounds) vmIsTrailingZeros = mmShift == 1;
                else vp--;
            }
            else if (q < 31)
            {
                vrIsTrailingZeros = IsMultipleOfPowerOf2(mv, q - 1);
            }
        }

        // Remove digits while the interval still holds a shorter number, rounding the last one removed.
        int removed = 0;
        uint output;
        if (vmIsTrailingZeros || vrIsTrailingZeros)
        {
            while (vp / 10 > vm / 10)
            {
                vmIsTrailingZeros &= vm % 10 == 0;
                vrIsTrailingZeros &= lastRemovedDigit == 0;
                lastRemovedDigit = vr % 10;
                vr /= 10; vp /= 10; vm /= 10;
                removed++;
            }
            if (vmIsTrailingZeros)
            {
                while (vm % 10 == 0)
                {
                    vrIsTrailingZeros &= lastRemovedDigit == 0;
                    lastRemovedDigit = vr % 10;
                    vr /= 10; vp /= 10; vm /= 10;
                    removed++;
                }
            }
            if (vrIsTrailingZeros && lastRemovedDigit == 5 && vr % 2 == 0) lastRemovedDigit = 4; // exactly half: to even
            output = vr + ((vr == vm && (!acceptBounds || !vmIsTrailingZeros)) || lastRemovedDigit >= 5 ? 1u : 0u);
        }
        else
        {
            while (vp / 10 > vm / 10)
            {
                lastRemovedDigit = vr % 10;
                vr /= 10; vp /= 10; vm /= 10;
                removed++;
            }
            output = vr + (vr == vm || lastRemovedDigit >= 5 ? 1u : 0u);
        }
        return (output, e10 + removed);
    }

    /// <summary>
    /// digits·10^exponent the way the BCL's "R" lays it out: plain when the decimal point falls within 3 zeros before
    /// the digits and 9 places after the first, otherwise d[.ddd]E±XX.
    /// </summary>
    private static int Layout(uint digits, int exponent, Span<byte> destination)
    {
        while (digits >= 10 && digits % 10 == 0) // Ryu may leave zeros that a larger exponent makes redundant
        {
            digits /= 10;
            exponent++;
        }
        int count = DecimalLength(digits);
        int point = exponent + count; // value = 0.digits × 10^point
        if (point is >= -3 and <= 9)
        {
            if (point <= 0)
            {
                int zeros = 2 - point; // "0." and the zeros after the point
                destination[..zeros].Fill((byte)'0');
                destination[1] = (byte)'.';
                WriteDigits(digits, destination.Slice(zeros, count));
                return zeros + count;
            }
            if (point >= count)
            {
                WriteDigits(digits, destination[..count]);
                destination[count..point].Fill((byte)'0');
                return point;
            }
            return InsertPoint(digits, count, point, destination);
        }
        int length;
        if (count == 1)
        {
            destination[0] = (byte)('0' + digits);
            length = 1;
        }
        else
        {
            // d.ddd: the digits after the first, then the first in front of the point.
            WriteDigits(digits, destination.Slice(1, count));
            destination[0] = destination[1];
            destination[1] = (byte)'.';
            length = count + 1;
        }
        int scientific = point - 1;
        destination[length++] = (byte)'E';
        destination[length++] = scientific < 0 ? (byte)'-' : (byte)'+';
        scientific = Math.Abs(scientific);
        destination[length++] = (byte)('0' + scientific / 10);
        destination[length++] = (byte)('0' + scientific % 10);
        return length;
    }

    /// <summary>ddd.ddd with the point after <paramref name="point"/> digits (0 &lt; point &lt; count).</summary>
    private static int InsertPoint(uint digits, int count, int point, Span<byte> destination)
    {
        for (int i = count; i > point; i--)
        {
            destination[i] = (byte)('0' + digits % 10);
            digits /= 10;
        }
        destination[point] = (byte)'.';
        WriteDigits(digits, destination[..point]);
        return count + 1;
    }

    /// <summary>Writes <paramref name="digits"/> right-aligned into <paramref name="destination"/>, which is exactly as long.</summary>
    private static void WriteDigits(uint digits, Span<byte> destination)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + digits % 10);
            digits /= 10;
        }
    }

    private static int DecimalLength(uint value) =>
        value >= 100_000_000 ? (value >= 1_000_000_000 ? 10 : 9)
        : value >= 10_000 ? (value >= 1_000_000 ? (value >= 10_000_000 ? 8 : 7) : (value >= 100_000 ? 6 : 5))
        : value >= 100 ? (value >= 1_000 ? 4 : 3)
        : value >= 10 ? 2 : 1;

    // ⌈log2(5^e)⌉ (1 for e = 0), ⌊log10(2^e)⌋ and ⌊log10(5^e)⌋, exact over the exponents a float32 needs.
    private static int Pow5Bits(int e) => (int)(((uint)e * 1217359) >> 19) + 1;
    private static int Log10Pow2(int e) => (int)(((uint)e * 78913) >> 18);
    private static int Log10Pow5(int e) => (int)(((uint)e * 732923) >> 20);

    /// <summary>(m · factor) >> shift, for shift ≥ 32, without a 128-bit product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MulShift(uint m, ulong factor, int shift)
    {
        ulong low = (ulong)m * (uint)factor;
        ulong high = (ulong)m * (factor >> 32);
        ulong sum = (low >> 32) + high;
        return (uint)(sum >> (shift - 32));
    }

    private static bool IsMultipleOfPowerOf5(uint value, int power)
    {
        int count = 0;
        while (value % 5 == 0)
        {
            value /= 5;
            count++;
        }
        return count >= power;
    }

    private static bool IsMultipleOfPowerOf2(uint value, int power) => (value & ((1u << power) - 1)) == 0;

    private static ulong[] BuildInverseTable(int count)
    {
        var table = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            var pow5 = BigInteger.Pow(5, i);
            int shift = (int)pow5.GetBitLength() - 1 + Pow5InverseBitCount;
            table[i] = (ulong)((BigInteger.One << shift) / pow5 + 1);
        }
        return table;
    }

    private static ulong[] BuildTable(int count)
    {
        var table = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            var pow5 = BigInteger.Pow(5, i);
            int length = (int)pow5.GetBitLength();
            table[i] = (ulong)(length >= Pow5BitCount ? pow5 >> (length - Pow5BitCount) : pow5 << (Pow5BitCount - length));
        }
        return table;
    }

    private static void ThrowDestinationTooShort() =>
        throw new ArgumentException($"The destination must hold {MaxLength} bytes.", "destination");

    private static void ThrowNotFinite(float value) =>
        throw new ArgumentOutOfRangeException(nameof(value), value, "Only finite values have a JSON number form.");
}
