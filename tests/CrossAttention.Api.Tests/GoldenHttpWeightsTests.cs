using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>
/// The golden cases through HTTP with the weights served as float16 (CrossAttention:WeightsDtype) and as bfloat16 (a
/// ModelOverrides entry per case), with float32 K/V and with K/V of the weights' type: within the K/V bounds.
/// </summary>
public class GoldenHttpFloat16WeightsTests(GoldenHttpFloat16WeightsTests.Factory factory)
    : IClassFixture<GoldenHttpFloat16WeightsTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory()
        {
            Settings["CrossAttention:ModelsDirectory"] = GoldenFolder.Path();
            Settings["CrossAttention:WeightsDtype"] = "float16";
        }
    }

    public static TheoryData<string, string?> Cases() => GoldenHttpWeights.Cases("float16");

    [Theory]
    [MemberData(nameof(Cases))]
    public Task CaseStaysWithinTheFloat16BoundsThroughHttp(string name, string? kvDtype) =>
        GoldenHttpTests.RunCaseAsync(factory, name, kvDtype, weightsDtype: "float16");
}

public class GoldenHttpBFloat16WeightsTests(GoldenHttpBFloat16WeightsTests.Factory factory)
    : IClassFixture<GoldenHttpBFloat16WeightsTests.Factory>
{
    public sealed class Factory : ApiFactory
    {
        public Factory()
        {
            Settings["CrossAttention:ModelsDirectory"] = GoldenFolder.Path();
            foreach (string name in GoldenFolder.CaseNames())
                Settings[$"CrossAttention:ModelOverrides:{name}:WeightsDtype"] = "bfloat16";
        }
    }

    public static TheoryData<string, string?> Cases() => GoldenHttpWeights.Cases("bfloat16");

    [Theory]
    [MemberData(nameof(Cases))]
    public Task CaseStaysWithinTheBFloat16BoundsThroughHttp(string name, string? kvDtype) =>
        GoldenHttpTests.RunCaseAsync(factory, name, kvDtype, weightsDtype: "bfloat16");
}

internal static class GoldenHttpWeights
{
    /// <summary>Every case with the default (float32) K/V and with K/V of the weights' type.</summary>
    public static TheoryData<string, string?> Cases(string weightsDtype)
    {
        var data = new TheoryData<string, string?>();
        foreach (string name in GoldenFolder.CaseNames())
        {
            data.Add(name, null);
            data.Add(name, weightsDtype);
        }
        return data;
    }
}
