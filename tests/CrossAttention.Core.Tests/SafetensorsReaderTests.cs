using CrossAttention.Core.Models;
using CrossAttention.Core.Safetensors;
using CrossAttention.Core.Tests.TestSupport;

namespace CrossAttention.Core.Tests;

public class SafetensorsReaderTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void FloatTensorsReadBackAsTheStoredValues(string dtype)
    {
        var random = new Random(1);
        float[] values = SyntheticLayer.RandomValues(random, 3 * 5).Select(v => v * 100).ToArray();
        values[0] = 0f;
        values[1] = -0f;
        values[2] = 65504f;    // the largest half
        values[3] = 1e-7f;     // subnormal in half
        using var folder = new TempFolder();
        new SafetensorsWriter().AddFloats("t", values, [3, 5], dtype).Write(folder.File("a.safetensors"));

        using var file = SafetensorsFile.Open(folder.File("a.safetensors"));

        var info = file.Info("t");
        Assert.Equal(dtype, info.DType);
        Assert.Equal([3L, 5L], info.Shape);
        Assert.Equal(Precision.RoundTrip(values, dtype), file.ReadSingles("t"));
        Assert.Equal(Precision.RoundTrip(values, dtype).Select(v => (double)v), file.ReadDoubles("t"));
        Assert.True(float.IsNegative(file.ReadSingles("t")[1]));
    }

    [Fact]
    public void BFloat16IsTheUpperHalfOfFloat32()
    {
        // 0x3FC0 → 1.5, 0xC040 → -3, 0x7F80 → +inf: checks the bit layout independently of the test's own rounding.
        using var folder = new TempFolder();
        new SafetensorsWriter().Add("b", "BF16", [3], [0xC0, 0x3F, 0x40, 0xC0, 0x80, 0x7F]).Write(folder.File("b.safetensors"));
        using var file = SafetensorsFile.Open(folder.File("b.safetensors"));
        Assert.Equal([1.5f, -3f, float.PositiveInfinity], file.ReadSingles("b", requireFinite: false));
    }

    [Fact]
    public void TensorsLargerThanOneChunkAndAtUnalignedOffsetsReadWhole()
    {
        const int count = (1 << 20) + 12345;
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (i % 1000) - 500.5f;
        using var folder = new TempFolder();
        new SafetensorsWriter()
            .Add("odd", "U8", [3], [1, 2, 3])   // pushes the next tensor off 4-byte alignment
            .AddFloats("big", values, [count], "BF16")
            .AddFloats("big32", values[..(count / 5 * 5)], [count / 5, 5], "F32")
            .Write(folder.File("big.safetensors"));

        using var file = SafetensorsFile.Open(folder.File("big.safetensors"));

        Assert.Equal(3, file.Info("big").DataBegin);
        Assert.Equal(Precision.RoundTrip(values, "BF16"), file.ReadSingles("big"));
        Assert.Equal(values.AsSpan(0, count / 5 * 5).ToArray(), file.ReadSingles("big32"));
        Assert.Equal([1L, 2L, 3L], file.ReadInt64("odd"));
    }

    [Fact]
    public void DoublesAndIntegersReadForReferenceData()
    {
        using var folder = new TempFolder();
        new SafetensorsWriter()
            .AddDoubles("d", [1.0 / 3, -2.5e-300, double.MaxValue], [3])
            .AddInt64("mask", [1, 0, long.MaxValue, -4], [2, 2])
            .Add("flags", "BOOL", [2], [1, 0])
            .Add("small", "I32", [2], [0xFF, 0xFF, 0xFF, 0xFF, 7, 0, 0, 0])
            .Write(folder.File("ref.safetensors"));

        using var file = SafetensorsFile.Open(folder.File("ref.safetensors"));

        Assert.Equal([1.0 / 3, -2.5e-300, double.MaxValue], file.ReadDoubles("d"));
        Assert.Equal([1L, 0L, long.MaxValue, -4L], file.ReadInt64("mask"));
        Assert.Equal([1L, 0L], file.ReadInt64("flags"));
        Assert.Equal([-1L, 7L], file.ReadInt64("small"));
        var error = Assert.Throws<SafetensorsException>(() => file.ReadSingles("d"));
        Assert.Contains("ref.safetensors: tensor 'd' has unsupported dtype F64", error.Message);
        Assert.Throws<SafetensorsException>(() => file.ReadInt64("d"));
    }

    [Fact]
    public void HeaderMetadataAndUnknownDtypesAreListedNotRejected()
    {
        using var folder = new TempFolder();
        var writer = new SafetensorsWriter().Add("q", "Q4_K", [7], [1, 2, 3]).AddFloats("w", [1, 2], [2]);
        writer.Metadata["note"] = "hello";
        writer.Write(folder.File("m.safetensors"));

        using var file = SafetensorsFile.Open(folder.File("m.safetensors"));

        Assert.Equal("hello", file.Metadata["note"]);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["q", "w"], file.Tensors.Keys.Order());
        Assert.Equal([1f, 2f], file.ReadSingles("w"));
        var error = Assert.Throws<SafetensorsException>(() => file.ReadSingles("q"));
        Assert.Contains("tensor 'q' has unsupported dtype Q4_K", error.Message);
    }

    [Fact]
    public void EmptyTensorsAndAnEmptyDataRegionAreValid()
    {
        using var folder = new TempFolder();
        new SafetensorsWriter().AddFloats("empty", [], [0, 4]).Write(folder.File("e.safetensors"));
        using var file = SafetensorsFile.Open(folder.File("e.safetensors"));
        Assert.Empty(file.ReadSingles("empty"));
    }

    [Fact]
    public void NonFiniteValuesAreAnErrorOnlyWhenAsked()
    {
        using var folder = new TempFolder();
        new SafetensorsWriter().AddFloats("n", [1, float.NaN], [2]).Write(folder.File("n.safetensors"));
        using var file = SafetensorsFile.Open(folder.File("n.safetensors"));
        Assert.True(float.IsNaN(file.ReadSingles("n", requireFinite: false)[1]));
        var error = Assert.Throws<SafetensorsException>(() => file.ReadSingles("n"));
        Assert.Contains("n.safetensors: tensor 'n' holds a non-finite value (NaN) at flat index 1", error.Message);
    }

    [Fact]
    public void MissingFileIsALoadError()
    {
        using var folder = new TempFolder();
        var error = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(folder.File("none.safetensors")));
        Assert.Contains("none.safetensors", error.Message);
    }

    [Fact]
    public void DisposeTwiceIsHarmlessAndReadsAfterwardAreRefused()
    {
        using var folder = new TempFolder();
        new SafetensorsWriter().AddFloats("w", [1], [1]).Write(folder.File("d.safetensors"));
        var file = SafetensorsFile.Open(folder.File("d.safetensors"));
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadSingles("w"));
    }

    [Fact]
    public void GoldenCaseFilesHoldTheTensorsTheirDescriptionsList()
    {
        using var file = SafetensorsFile.Open(Path.Combine(GoldenCases.Case("bart"), "case.safetensors"));
        Assert.Equal([2L, 23L], file.Info("encoder_attention_mask").Shape);
        long[] mask = file.ReadInt64("encoder_attention_mask");
        Assert.Equal(23 + 15, mask.Sum());   // the README: the second source keeps 15 of 23 tokens
    }
}
