using System.Globalization;
using System.Text;
using CrossAttention.Api.Contracts;

namespace CrossAttention.Api.Tests;

/// <summary>The hand-written float formatter against the BCL's round-trip formatter, byte for byte.</summary>
public class ShortestFloat32Tests
{
    private static void AssertSameAsBcl(float value)
    {
        Span<byte> buffer = stackalloc byte[ShortestFloat32.MaxLength];
        int written = ShortestFloat32.Format(value, buffer);
        string expected = value.ToString("R", CultureInfo.InvariantCulture);
        string actual = Encoding.ASCII.GetString(buffer[..written]);
        if (actual != expected)
            Assert.Fail($"0x{BitConverter.SingleToUInt32Bits(value):X8}: expected {expected}, wrote {actual}");
    }

    public static TheoryData<float> Edges() =>
    [
        0f, -0f, 1f, -1f, 0.1f, 0.2f, 0.3f, 1f / 3, 2f / 3, 10f, 100f, 1e8f, 123456789f, 1e9f, 1e10f, 1e-3f, 1e-4f,
        1e-5f, 1.5e-5f, 0.001234f, 12345.678f, 9.999999e-5f, 9.9999999e8f, float.Epsilon, -float.Epsilon,
        float.MaxValue, float.MinValue, 1.17549435E-38f, 1.1754942E-38f, 16777216f, 16777217f, 8388608f, 33554432f,
        MathF.PI, MathF.E, 0.5f, 0.25f, 3.4028234E+38f, 1E-45f, 2E-45f, 7E-45f, 9.403954E-38f,
    ];

    [Theory]
    [MemberData(nameof(Edges))]
    public void EdgeValuesMatch(float value) => AssertSameAsBcl(value);

    [Fact]
    public void EveryPowerOfTwoAndTenAndTheirNeighboursMatch()
    {
        for (int e = -149; e <= 127; e++)
        {
            float power = MathF.ScaleB(1f, e);
            AssertSameAsBcl(power);
            AssertSameAsBcl(MathF.BitDecrement(power));
            AssertSameAsBcl(MathF.BitIncrement(power));
        }
        for (int e = -45; e <= 38; e++)
        {
            float power = float.Parse($"1e{e}", CultureInfo.InvariantCulture);
            AssertSameAsBcl(power);
            AssertSameAsBcl(MathF.BitDecrement(power));
            AssertSameAsBcl(MathF.BitIncrement(power));
        }
    }

    [Fact]
    public void RandomBitPatternsOverEveryExponentMatch()
    {
        var random = new Random(20261128);
        for (uint exponent = 0; exponent < 255; exponent++)
            for (int i = 0; i < 2000; i++)
            {
                uint bits = ((uint)random.Next(2) << 31) | (exponent << 23) | (uint)random.Next(1 << 23);
                AssertSameAsBcl(BitConverter.UInt32BitsToSingle(bits));
            }
    }

    [Fact]
    public void ShortFloatsWrittenAsDecimalsMatch()
    {
        // Values people type: few digits, where ties and trailing zeros are most likely to go wrong.
        for (int digits = 0; digits < 20000; digits++)
            foreach (int exponent in new[] { -12, -6, -5, -4, -3, -1, 0, 1, 3, 8, 9, 12 })
                AssertSameAsBcl(float.Parse($"{digits}e{exponent}", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void NonFiniteValuesAreRefused()
    {
        var buffer = new byte[ShortestFloat32.MaxLength];
        Assert.Throws<ArgumentOutOfRangeException>(() => ShortestFloat32.Format(float.NaN, buffer));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShortestFloat32.Format(float.PositiveInfinity, buffer));
    }
}
