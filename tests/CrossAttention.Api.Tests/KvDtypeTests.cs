using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Api.Tests;

/// <summary>The K/V dtype of a session: chosen per encode (JSON or raw form) or by Cache:KvDtype, shown and charged exactly.</summary>
public class KvDtypeTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Theory]
    [InlineData(null, "float32", KeyValueElementType.Float32)]
    [InlineData("float32", "float32", KeyValueElementType.Float32)]
    [InlineData("float16", "float16", KeyValueElementType.Float16)]
    [InlineData("bfloat16", "bfloat16", KeyValueElementType.BFloat16)]
    [InlineData("BFloat16", "bfloat16", KeyValueElementType.BFloat16)]
    public async Task AnEncodeStoresTheDtypeItNamesShowsItAndChargesItsExactBytes(string? kvDtype, string shown,
        KeyValueElementType elementType)
    {
        var source = Json.Rows(7, 64, seed: 21);
        int[] mask = [1, 1, 1, 1, 1, 0, 1];
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, sourceMask = mask, kvDtype }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var session = await response.ReadObjectAsync();
        Assert.Equal(shown, session["kvDtype"]!.GetValue<string>());

        using var expected = DemoModel.Create().Encode(source.SelectMany(r => r).ToArray(), 7, mask.Select(v => (byte)v).ToArray(),
            ComputeOptions.Default, elementType: elementType);
        Assert.Equal(expected.Bytes, session["kvBytes"]!.GetValue<long>());

        var fetched = await (await _client.GetAsync($"/sessions/{session["sessionId"]!.GetValue<string>()}")).ReadObjectAsync();
        Assert.Equal(shown, fetched["kvDtype"]!.GetValue<string>());
        Assert.Equal(expected.Bytes, fetched["kvBytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task SixteenBitSessionsHoldAboutHalfTheBytesAndDecodeLikeTheEngine()
    {
        var source = Json.Rows(300, 64, seed: 22);
        var queries = Json.Rows(2, 64, seed: 23);
        long float32Bytes = 0;
        foreach (string kvDtype in new[] { "float32", "float16", "bfloat16" })
        {
            var session = await (await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, kvDtype }))).ReadObjectAsync();
            long bytes = session["kvBytes"]!.GetValue<long>();
            if (kvDtype == "float32") float32Bytes = bytes;
            else Assert.InRange(bytes, float32Bytes * 0.45, float32Bytes * 0.6); // K/V halve; the keep lanes stay 32-bit

            string id = session["sessionId"]!.GetValue<string>();
            var step = await (await _client.PostAsync($"/sessions/{id}/decode-step",
                Json.Body(new { layer = 1, queries, returnAttention = true }))).ReadObjectAsync();

            KeyValueElementTypes.TryParse(kvDtype, out var elementType);
            var model = DemoModel.Create();
            using var encoded = model.Encode(source.SelectMany(r => r).ToArray(), 300, default, ComputeOptions.Default,
                elementType: elementType);
            var expected = new float[2 * 64];
            var expectedAttention = new float[4 * 2 * 300];
            model.Layers[1].Decode(encoded.Layers[1], queries.SelectMany(r => r).ToArray(), 2, expected, expectedAttention,
                ComputeOptions.Default);
            Assert.Equal(expected, Json.Matrix(step["output"]).SelectMany(r => r).ToArray(), new ToleranceComparer(1e-5f));
            Assert.Equal(expectedAttention, Json.Tensor3(step["attention"]).SelectMany(h => h.SelectMany(r => r)).ToArray(),
                new ToleranceComparer(1e-6f));
        }
    }

    [Fact]
    public async Task PutAndTheRawFormTakeTheDtypeToo()
    {
        var source = Json.Rows(4, 64, seed: 24);
        var put = await _client.PutAsync("/sessions/kvdtype-put-Qm9vT3Lq", Json.Body(new { model = "demo", source, kvDtype = "float16" }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal("float16", (await put.ReadObjectAsync())["kvDtype"]!.GetValue<string>());

        var raw = await _client.PostAsync("/encode?model=demo&rows=4&kvDtype=bfloat16", Raw(source));
        Assert.Equal(HttpStatusCode.Created, raw.StatusCode);
        Assert.Equal("bfloat16", (await raw.ReadObjectAsync())["kvDtype"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnUnknownDtypeIsA400NamingTheField()
    {
        var source = Json.Rows(3, 64, seed: 25);
        await ProblemAssert.IsValidationErrorAsync(
            await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, kvDtype = "float8" })), "kvDtype", "float8");
        await ProblemAssert.IsValidationErrorAsync(
            await _client.PutAsync("/sessions/kvdtype-bad-Zx81Kq0p", Json.Body(new { model = "demo", source, kvDtype = "" })),
            "kvDtype", "bfloat16");
        await ProblemAssert.IsValidationErrorAsync(
            await _client.PostAsync("/encode?model=demo&rows=3&kvDtype=int8", Raw(source)), "kvDtype", "int8");
    }

    [Fact]
    public async Task ASourceWhoseKeysOverflowFloat16IsRefusedForFloat16AndServedAsBFloat16()
    {
        // Finite float32, but K = S·Wkᵀ + bk lands far past float16's ±65504 (it would be ±Inf, and the step NaN).
        var source = Json.Rows(5, 64, seed: 26).Select(row => row.Select(v => v * 1e7f).ToArray()).ToArray();
        var refused = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, kvDtype = "float16" }));
        await ProblemAssert.IsValidationErrorAsync(refused, "source", "65504");

        foreach (string kvDtype in new[] { "bfloat16", "float32" })
        {
            var created = await _client.PostAsync("/encode", Json.Body(new { model = "demo", source, kvDtype }));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            string id = (await created.ReadObjectAsync())["sessionId"]!.GetValue<string>();
            var step = await (await _client.PostAsync($"/sessions/{id}/decode-step",
                Json.Body(new { layer = 0, queries = Json.Rows(1, 64, seed: 27), returnAttention = true }))).ReadObjectAsync();
            Assert.All(Json.Matrix(step["output"]).SelectMany(r => r), v => Assert.True(float.IsFinite(v), $"{kvDtype}: {v}"));
            Assert.All(Json.Tensor3(step["attention"]).SelectMany(h => h.SelectMany(r => r)), v => Assert.True(float.IsFinite(v)));
        }
    }

    [Fact]
    public async Task TheConfiguredDefaultAppliesWhenAnEncodeNamesNone()
    {
        await using var configured = new ApiFactory();
        configured.Settings["CrossAttention:Cache:KvDtype"] = "bfloat16";
        var client = configured.CreateClient();
        var source = Json.Rows(3, 64, seed: 28);
        var session = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source }))).ReadObjectAsync();
        Assert.Equal("bfloat16", session["kvDtype"]!.GetValue<string>());
        var named = await (await client.PostAsync("/encode", Json.Body(new { model = "demo", source, kvDtype = "float32" }))).ReadObjectAsync();
        Assert.Equal("float32", named["kvDtype"]!.GetValue<string>());
    }

    private static ByteArrayContent Raw(float[][] rows)
    {
        var content = new ByteArrayContent(MemoryMarshal.AsBytes(rows.SelectMany(r => r).ToArray().AsSpan()).ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }
}
