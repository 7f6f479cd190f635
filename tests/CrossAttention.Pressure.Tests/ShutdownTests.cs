using System.Net;
using System.Net.Http.Headers;

namespace CrossAttention.Pressure.Tests;

/// <summary>SIGTERM as the kubelet sends it: in-flight requests are answered, then the process exits cleanly.</summary>
public class ShutdownTests
{
    /// <summary>A body sent in two halves; the second waits for the test's word.</summary>
    private sealed class TwoPartContent(byte[] body) : HttpContent
    {
        public TaskCompletionSource FirstHalfSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource SendRest { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            int half = body.Length / 2;
            await stream.WriteAsync(body.AsMemory(0, half));
            await stream.FlushAsync();
            FirstHalfSent.TrySetResult();
            await SendRest.Task;
            await stream.WriteAsync(body.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }

    [Fact]
    public async Task SigTermDuringAnEncodeAnswersTheEncodeAndExitsCleanly()
    {
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["CrossAttention__ShutdownTimeoutSeconds"] = "20",
        });
        using var client = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var body = new TwoPartContent(RawSource(rows: 512, width: 64));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        const string id = "sigterm-test-session-0001";
        var encode = client.PutAsync($"/sessions/{id}?model=demo&rows=512", body);
        await body.FirstHalfSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Until(() => service.Output.Contains($"/sessions/{id}", StringComparison.Ordinal), "the server has the encode in hand");

        service.Terminate();
        await Until(() => service.Output.Contains("Application is shutting down", StringComparison.Ordinal), "the host is stopping");
        body.SendRest.TrySetResult();

        var response = await encode;
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await service.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, service.ExitCode);
    }

    internal static byte[] RawSource(int rows, int width, int seed = 1)
    {
        var random = new Random(seed);
        var values = new float[rows * width];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>Waits (bounded) for something the service reports on its own.</summary>
    internal static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}
