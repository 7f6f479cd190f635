using System.Globalization;
using System.Text;
using CrossAttention.Api.Contracts;

namespace CrossAttention.Api.Tests;

/// <summary>The fast JSON number path against double.Parse, bit for bit, and how often it is taken.</summary>
public class JsonNumberParserTests
{
    private static bool Check(string text)
    {
        bool fast = JsonNumberParser.TryParse(Encoding.ASCII.GetBytes(text), out double value);
        if (fast)
        {
            double expected = double.Parse(text, CultureInfo.InvariantCulture);
            if (BitConverter.DoubleToUInt64Bits(value) != BitConverter.DoubleToUInt64Bits(expected))
                Assert.Fail($"{text}: expected {expected:R} (0x{BitConverter.DoubleToUInt64Bits(expected):X16}), parsed {value:R}");
        }
        return fast;
    }

    [Theory]
    [InlineData("0"), InlineData("-0"), InlineData("0.0"), InlineData("-0.0e5"), InlineData("1"), InlineData("-1"),
     InlineData("0.1"), InlineData("0.30000000000000004"), InlineData("1e23"), InlineData("8.98846567431158e307"),
     InlineData("1.7976931348623157e308"), InlineData("2.2250738585072014e-308"), InlineData("9007199254740993"),
     InlineData("9007199254740992.5"), InlineData("1.0000000000000002"), InlineData("123456789012345678"),
     InlineData("0.000001234"), InlineData("1E+2"), InlineData("1e-2"), InlineData("4.9406564584124654e-324"),
     InlineData("1e309"), InlineData("12345678901234567890123"), InlineData("1.00000017881393432617187499"),
     InlineData("7.038531e-26"), InlineData("3.4028235e38"), InlineData("1.17549435e-38"), InlineData("2.5"),
     InlineData("0.5"), InlineData("1.5e-323"), InlineData("100000000000000000000000000000000000000000e-10")]
    public void EdgeNumbersMatchTheBcl(string text) => Check(text);

    [Fact]
    public void RoundTripTextsOfRandomDoublesAndFloatsMatchAndTakeTheFastPath()
    {
        var random = new Random(20261128);
        int fast = 0, total = 0;
        for (int i = 0; i < 200_000; i++)
        {
            double d = BitConverter.Int64BitsToDouble(random.NextInt64(long.MinValue, long.MaxValue));
            if (!double.IsFinite(d)) continue;
            total++;
            if (Check(d.ToString("R", CultureInfo.InvariantCulture))) fast++;
            float f = (float)(random.NextDouble() * 4 - 2);
            Check(f.ToString("R", CultureInfo.InvariantCulture));
            Check(((double)f).ToString("R", CultureInfo.InvariantCulture)); // what Python sends for a float32
        }
        // Everything but subnormals goes the fast way: a fast path that never ran would pass the checks above.
        Assert.True(fast > total * 0.99, $"fast path taken for {fast} of {total}");
    }

    [Fact]
    public void HalfwayCasesRoundToEvenLikeTheBcl()
    {
        // m·2^e + half an ulp, written out exactly: the cases where round-to-even decides.
        var random = new Random(7);
        for (int i = 0; i < 20_000; i++)
        {
            long mantissa = (1L << 52) | random.NextInt64(1L << 52);
            int e = random.Next(-60, 20);
            decimal? exact = null;
            try
            {
                exact = e >= 0 ? (decimal)mantissa * (decimal)Math.Pow(2, e) + (decimal)Math.Pow(2, e - 1)
                               : ((decimal)mantissa + 0.5m) / (decimal)Math.Pow(2, -e);
            }
            catch (OverflowException) { }
            if (exact is { } value) Check(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void RandomDigitStringsWithEveryExponentMatch()
    {
        var random = new Random(11);
        var text = new StringBuilder();
        for (int i = 0; i < 100_000; i++)
        {
            text.Clear();
            if (random.Next(2) == 0) text.Append('-');
            int digits = random.Next(1, 20);
            for (int d = 0; d < digits; d++) text.Append((char)('0' + (d == 0 ? random.Next(1, 10) : random.Next(10))));
            int point = random.Next(0, digits + 1);
            if (point < digits) text.Insert(text.Length - point, '.');
            text.Append('e').Append(random.Next(-330, 310));
            Check(text.ToString());
        }
    }
}
