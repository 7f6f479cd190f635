using CrossAttention.Core.Kernels;

namespace CrossAttention.Core.Tests;

/// <summary>One resolver decides what runs; a forced variant is read by name and must be one this CPU has.</summary>
public class KernelVariantsTests
{
    [Fact]
    public void ASupportedVariantResolvesToItselfAndTheBestIsTheWidestSupported()
    {
        foreach (var variant in KernelVariants.Supported) Assert.Equal(variant, KernelVariants.Resolve(variant));
        Assert.Equal(KernelVariants.Supported[^1], KernelVariants.Best);
        Assert.Equal(KernelVariant.Scalar, KernelVariants.Resolve((KernelVariant)(-1)));
        Assert.True(KernelVariants.IsSupported(KernelVariants.Resolve((KernelVariant)42)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void NoForcedVariantMeansTheBest(string? text)
    {
        Assert.True(KernelVariants.TryParse(text, out var variant, out var error));
        Assert.Equal(KernelVariants.Best, variant);
        Assert.Null(error);
    }

    [Fact]
    public void AVariantIsForcedByNameInAnyCase()
    {
        foreach (var expected in KernelVariants.Supported)
            foreach (var text in new[] { expected.ToString(), expected.ToString().ToLowerInvariant(), $" {expected} " })
            {
                Assert.True(KernelVariants.TryParse(text, out var variant, out _), text);
                Assert.Equal(expected, variant);
            }
    }

    [Theory]
    [InlineData("Vector1024")]
    [InlineData("3")]
    [InlineData("Avx512")]
    public void ANameThatIsNoVariantIsRefusedWithTheChoices(string text)
    {
        Assert.False(KernelVariants.TryParse(text, out _, out var error));
        Assert.Contains(text, error);
        Assert.Contains("Vector512", error);
    }
}
