using System.Diagnostics;
using System.Net;
using CrossAttention.Api.Tests.Support;
using CrossAttention.Core.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace CrossAttention.Api.Tests.Observability;

public class TracingTests
{
    /// <summary>The app with an OpenTelemetry tracer that keeps every finished span in memory.</summary>
    private sealed class TracedApiFactory : ApiFactory
    {
        private readonly List<Activity> _spans = [];

        public Activity[] Spans(ActivityTraceId trace)
        {
            lock (_spans) return _spans.Where(s => s.TraceId == trace).ToArray();
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddOpenTelemetry().WithTracing(tracing => tracing
                .AddSource(CrossAttentionTracing.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddProcessor(new OpenTelemetry.SimpleActivityExportProcessor(new LockedListExporter(_spans)))));
        }
    }

    private sealed class LockedListExporter(List<Activity> spans) : OpenTelemetry.BaseExporter<Activity>
    {
        public override OpenTelemetry.ExportResult Export(in OpenTelemetry.Batch<Activity> batch)
        {
            lock (spans) foreach (var span in batch) spans.Add(span);
            return OpenTelemetry.ExportResult.Success;
        }
    }

    private static HttpRequestMessage Traced(HttpMethod method, string path, HttpContent? body, out ActivityTraceId trace)
    {
        trace = ActivityTraceId.CreateRandom();
        var request = new HttpRequestMessage(method, path) { Content = body };
        request.Headers.Add("traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        return request;
    }

    private static Activity Single(Activity[] spans, string name) =>
        Assert.Single(spans, s => s.OperationName == name);

    [Fact]
    public async Task EncodeAndDecodeStepHaveSpansInTheCallersTrace()
    {
        await using var factory = new TracedApiFactory();
        var client = factory.CreateClient();

        var encode = await client.SendAsync(Traced(HttpMethod.Post, "/encode",
            Json.Body(new { model = "demo", source = Json.Rows(9, 64, 1) }), out var encodeTrace));
        Assert.Equal(HttpStatusCode.Created, encode.StatusCode);
        string id = (await encode.ReadObjectAsync())["sessionId"]!.GetValue<string>();
        var encodeSpans = factory.Spans(encodeTrace);
        var encodeSpan = Single(encodeSpans, "encode");
        Assert.Equal("demo", encodeSpan.GetTagItem("crossattention.model"));
        Assert.Equal(9, encodeSpan.GetTagItem("crossattention.source_length"));
        Assert.Equal(encodeSpan.SpanId, Single(encodeSpans, "encode.compute").ParentSpanId);
        Assert.Equal("Stored", Single(encodeSpans, "session-store.add").GetTagItem("crossattention.store.result"));

        var step = await client.SendAsync(Traced(HttpMethod.Post, $"/sessions/{id}/decode-step",
            Json.Body(new { layer = 1, queries = Json.Rows(2, 64, 2) }), out var stepTrace));
        Assert.Equal(HttpStatusCode.OK, step.StatusCode);
        var stepSpans = factory.Spans(stepTrace);
        Assert.Equal(true, Single(stepSpans, "session-store.get").GetTagItem("crossattention.store.hit"));
        var stepSpan = Single(stepSpans, "decode-step");
        Assert.Equal(1, stepSpan.GetTagItem("crossattention.layer"));
        Assert.Equal(2, stepSpan.GetTagItem("crossattention.rows"));
        // Nothing else was computing, so the step ran at once on its own thread: its batch is its child.
        var batch = Single(stepSpans, "decode.batch");
        Assert.Equal(stepSpan.SpanId, batch.ParentSpanId);
        Assert.Equal(1, batch.GetTagItem("crossattention.batch.steps"));

        var delete = await client.SendAsync(Traced(HttpMethod.Delete, $"/sessions/{id}", null, out var deleteTrace));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(true, Single(factory.Spans(deleteTrace), "session-store.remove").GetTagItem("crossattention.store.removed"));
    }

    /// <summary>Every problem+json names the request's W3C trace id, whichever path wrote it.</summary>
    [Theory]
    [InlineData("GET", "/sessions/no-such-session-here", null, HttpStatusCode.NotFound)]          // handler's 404
    [InlineData("POST", "/encode", "{\"model\":\"demo\"}", HttpStatusCode.BadRequest)]          // validation problem
    [InlineData("POST", "/encode", "{\"model\":", HttpStatusCode.BadRequest)]                   // malformed JSON
    [InlineData("POST", "/encode?rows=abc", "", HttpStatusCode.BadRequest)]                     // binding failure (exception handler)
    [InlineData("GET", "/no/such/route", null, HttpStatusCode.NotFound)]                        // status code pages
    [InlineData("POST", "/models", "{}", HttpStatusCode.MethodNotAllowed)]                      // status code pages
    public async Task EveryProblemCarriesTheTraceId(string method, string path, string? json, HttpStatusCode status)
    {
        await using var factory = new ApiFactory();
        var request = Traced(new HttpMethod(method), path, json is null ? null : Json.Raw(json), out var trace);
        var problem = await ProblemAssert.IsProblemAsync(await factory.CreateClient().SendAsync(request), status);
        Assert.Equal(trace.ToHexString(), problem["traceId"]?.GetValue<string>());
    }
}
