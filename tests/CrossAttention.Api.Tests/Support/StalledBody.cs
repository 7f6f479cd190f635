using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;

namespace CrossAttention.Api.Tests.Support;

/// <summary>
/// A request body that hands the server its first bytes and then stalls until <see cref="Abort"/> (or until the
/// server gives up on it): a slow or hostile client, without any waiting on the test's side.
/// </summary>
public sealed class StalledBody(byte[] sent) : Stream
{
    private readonly TaskCompletionSource _abort = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;

    /// <summary>Ends the stalled upload where it is (the client gives up; the server sees a truncated body).</summary>
    public void Abort() => _abort.TrySetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position < sent.Length)
        {
            int count = Math.Min(buffer.Length, sent.Length - _position);
            sent.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }
        await _abort.Task.WaitAsync(cancellationToken);
        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous reads only");
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Sends a POST (or PUT) with this body and a declared length through the in-memory server.</summary>
    public Task<HttpContext> SendAsync(TestServer server, string method, string path, long declaredLength) =>
        server.SendAsync(context =>
        {
            context.Request.Method = method;
            context.Request.Path = path;
            context.Request.ContentType = "application/json";
            context.Request.ContentLength = declaredLength;
            context.Request.Body = this;
        });
}

public static class Eventually
{
    /// <summary>Waits (bounded) for a condition the server reaches on its own threads, e.g. having read a body's first bytes.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(5);
        }
    }
}
