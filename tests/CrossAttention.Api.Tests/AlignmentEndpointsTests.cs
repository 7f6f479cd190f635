using System.Net;
using System.Text.Json.Nodes;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests;

/// <summary>recordAttention at encode and PUT, the record's cost and cap, and GET /sessions/{id}/alignment.</summary>
public sealed class AlignmentEndpointsTests : IClassFixture<AlignmentEndpointsTests.Factory>
{
    public const int MaxRecordedSteps = 4;

    public sealed class Factory : ApiFactory
    {
        public Factory() => Settings["CrossAttention:Limits:MaxRecordedSteps"] = MaxRecordedSteps.ToString();
    }

    private static readonly float[][] Source = [[1, 0, 0, 0.5f], [0, 1, 0, 0.5f], [0, 0, 1, 0.5f]];
    private static readonly float[][] Targets = [[0.9f, 0.1f, 0, 0.3f], [0.1f, 0, 0.9f, 0.3f], [0, 0.9f, 0.1f, 0.3f]];
    private readonly HttpClient _client;

    public AlignmentEndpointsTests(Factory factory) => _client = factory.CreateClient();

    [Fact]
    public async Task TheAlignmentMatrixIsTheHeadAverageOfTheRecordedStepsAndThePathRunsCornerToCorner()
    {
        string id = await EncodeAsync(record: true);
        var attentions = new List<float[][][]>();
        foreach (var target in Targets)
            attentions.Add(Json.Tensor3((await StepAsync(id, target, returnAttention: true))["attention"]));

        var alignment = await GetAlignmentAsync(id, "layer=0");
        Assert.Equal(3, alignment["steps"]!.GetValue<int>());
        Assert.Equal([0, 1], alignment["heads"]!.AsArray().Select(h => h!.GetValue<int>()));
        var matrix = Json.Matrix(alignment["matrix"]);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal((float)((attentions[i][0][0][j] + (double)attentions[i][1][0][j]) / 2), matrix[i][j]);
        var path = Path(alignment);
        Assert.Equal((0, 0), path[0]);
        Assert.Equal((2, 2), path[^1]);
        var spans = alignment["spans"]!.AsArray();
        Assert.Equal(3, spans.Count);
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(i, spans[i]!["step"]!.GetValue<int>()));

        var oneHead = Json.Matrix((await GetAlignmentAsync(id, "layer=0&heads=1"))["matrix"]);
        Assert.Equal(attentions[2][1][0], oneHead[2]);
    }

    [Fact]
    public async Task RecordingNeverChangesAStepsResult()
    {
        string plain = await EncodeAsync(record: false);
        string recorded = await EncodeAsync(record: true), recordedWithWeights = await EncodeAsync(record: true);
        foreach (var target in Targets)
        {
            var a = await StepAsync(plain, target, returnAttention: false);
            var b = await StepAsync(recorded, target, returnAttention: false);
            Assert.Equal(a.ToJsonString(), b.ToJsonString());
            Assert.Null(b["attention"]);
            var c = await StepAsync(plain, target, returnAttention: true);
            var d = await StepAsync(recordedWithWeights, target, returnAttention: true);
            Assert.Equal(c.ToJsonString(), d.ToJsonString());
        }
    }

    [Fact]
    public async Task TheRecordsCapacityCountsInTheSessionsBytes()
    {
        var plain = await (await _client.PostAsync("/encode", Json.Body(new { model = "tutorial", source = Source }))).ReadObjectAsync();
        var recorded = await (await _client.PostAsync("/encode",
            Json.Body(new { model = "tutorial", source = Source, recordAttention = true }))).ReadObjectAsync();
        // MaxRecordedSteps rows of [heads 2, m 3] float32 for the one layer.
        Assert.Equal(MaxRecordedSteps * 2 * 3 * 4, recorded["kvBytes"]!.GetValue<long>() - plain["kvBytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task AStepPastTheCapIsRefusedBeforeItComputesAndTheRecordKeepsTheStepsBeforeIt()
    {
        string id = await EncodeAsync(record: true);
        for (int i = 0; i < MaxRecordedSteps; i++) await StepAsync(id, Targets[i % 3], returnAttention: false);
        var refused = await _client.PostAsync($"/sessions/{id}/decode-step", Json.Body(new { layer = 0, queries = new[] { Targets[0] } }));
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Conflict);
        Assert.Contains("Limits:MaxRecordedSteps", problem["detail"]!.GetValue<string>());
        // A step of two rows when one is left is refused whole as well.
        Assert.Equal(MaxRecordedSteps, (await GetAlignmentAsync(id, "layer=0"))["steps"]!.GetValue<int>());

        string other = await EncodeAsync(record: true);
        for (int i = 0; i < MaxRecordedSteps - 1; i++) await StepAsync(other, Targets[0], returnAttention: false);
        await ProblemAssert.IsProblemAsync(await _client.PostAsync($"/sessions/{other}/decode-step",
            Json.Body(new { layer = 0, queries = new[] { Targets[0], Targets[1] } })), HttpStatusCode.Conflict);
        Assert.Equal(MaxRecordedSteps - 1, (await GetAlignmentAsync(other, "layer=0"))["steps"]!.GetValue<int>());
    }

    [Fact]
    public async Task ARecordThatCannotFitTheBudgetIsRefusedAtEncode()
    {
        await using var factory = new ApiFactory();
        // Room for the tutorial's K/V but not for a record of 65536 rows.
        factory.Settings["CrossAttention:Cache:SizeLimitBytes"] = "200000";
        factory.Settings["CrossAttention:Limits:MaxRecordedSteps"] = "65536";
        var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/encode", Json.Body(new { model = "tutorial", source = Source }))).StatusCode);
        var refused = await client.PostAsync("/encode", Json.Body(new { model = "tutorial", source = Source, recordAttention = true }));
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.InsufficientStorage);
    }

    [Fact]
    public async Task TheRawFormAndPutRecordToo()
    {
        var raw = new ByteArrayContent(Source.SelectMany(r => r).SelectMany(BitConverter.GetBytes).ToArray());
        raw.Headers.ContentType = new("application/octet-stream");
        var encoded = await (await _client.PostAsync("/encode?model=tutorial&rows=3&recordAttention=true", raw)).ReadObjectAsync();
        string rawId = encoded["sessionId"]!.GetValue<string>();
        await StepAsync(rawId, Targets[0], returnAttention: false);
        Assert.Equal(1, (await GetAlignmentAsync(rawId, "layer=0"))["steps"]!.GetValue<int>());

        string putId = "explorer-put-" + Guid.NewGuid().ToString("N");
        var put = await _client.PutAsync($"/sessions/{putId}", Json.Body(new { model = "tutorial", source = Source, recordAttention = true }));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        await StepAsync(putId, Targets[1], returnAttention: false);
        Assert.Equal(1, (await GetAlignmentAsync(putId, "layer=0"))["steps"]!.GetValue<int>());
    }

    [Fact]
    public async Task ThePathNeverVisitsAMaskedColumn()
    {
        var session = await (await _client.PostAsync("/encode",
            Json.Body(new { model = "tutorial", source = Source, sourceMask = new[] { 1, 1, 0 }, recordAttention = true }))).ReadObjectAsync();
        string id = session["sessionId"]!.GetValue<string>();
        foreach (var target in Targets) await StepAsync(id, target, returnAttention: false);
        var alignment = await GetAlignmentAsync(id, "layer=0&normalize=true&medianFilter=3");
        var path = Path(alignment);
        Assert.Equal((0, 0), path[0]);
        Assert.Equal((2, 1), path[^1]);
        Assert.DoesNotContain(path, p => p.Source == 2);
        Assert.All(Json.Matrix(alignment["matrix"]), row => Assert.Equal(0f, row[2]));
    }

    [Fact]
    public async Task AnEmptyRecordHasAnEmptyAlignment()
    {
        var alignment = await GetAlignmentAsync(await EncodeAsync(record: true), "layer=0");
        Assert.Equal(0, alignment["steps"]!.GetValue<int>());
        Assert.Empty(alignment["matrix"]!.AsArray());
        Assert.Empty(alignment["path"]!.AsArray());
    }

    [Theory]
    [InlineData("", "layer", "required")]
    [InlineData("layer=1", "layer", "out of range")]
    [InlineData("layer=-1", "layer", "out of range")]
    [InlineData("layer=0&heads=2", "heads", "out of range")]
    [InlineData("layer=0&heads=0,0", "heads", "twice")]
    [InlineData("layer=0&heads=a", "heads", "not a head number")]
    [InlineData("layer=0&heads=-1", "heads", "not a head number")]
    [InlineData("layer=0&medianFilter=4", "medianFilter", "odd")]
    [InlineData("layer=0&medianFilter=0", "medianFilter", "odd")]
    [InlineData("layer=0&medianFilter=257", "medianFilter", "odd")]
    public async Task BadParametersAreValidationProblems(string query, string field, string fragment)
    {
        string id = await EncodeAsync(record: true);
        await ProblemAssert.IsValidationErrorAsync(await _client.GetAsync($"/sessions/{id}/alignment?{query}"), field, fragment);
    }

    [Theory]
    [InlineData("layer=x")]
    [InlineData("layer=0&normalize=maybe")]
    [InlineData("layer=0&medianFilter=99999999999")]
    public async Task UnparsableParametersAre400s(string query)
    {
        string id = await EncodeAsync(record: true);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}/alignment?{query}"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ASessionWithoutRecordingOrAnUnknownOneIsAProblem()
    {
        string id = await EncodeAsync(record: false);
        await ProblemAssert.IsValidationErrorAsync(await _client.GetAsync($"/sessions/{id}/alignment?layer=0"), "recordAttention", "does not record");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/sessions/no-such-session-id-000/alignment?layer=0"), HttpStatusCode.NotFound);
        await _client.DeleteAsync($"/sessions/{id}");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/sessions/{id}/alignment?layer=0"), HttpStatusCode.NotFound);
    }

    private async Task<string> EncodeAsync(bool record)
    {
        var response = await _client.PostAsync("/encode", Json.Body(new { model = "tutorial", source = Source, recordAttention = record }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadObjectAsync())["sessionId"]!.GetValue<string>();
    }

    private async Task<JsonObject> StepAsync(string id, float[] target, bool returnAttention)
    {
        var response = await _client.PostAsync($"/sessions/{id}/decode-step",
            Json.Body(new { layer = 0, queries = new[] { target }, returnAttention }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadObjectAsync();
    }

    private async Task<JsonObject> GetAlignmentAsync(string id, string query)
    {
        var response = await _client.GetAsync($"/sessions/{id}/alignment?{query}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.ReadObjectAsync();
    }

    private static (int Step, int Source)[] Path(JsonObject alignment) =>
        [.. alignment["path"]!.AsArray().Select(p => (p![0]!.GetValue<int>(), p[1]!.GetValue<int>()))];
}
