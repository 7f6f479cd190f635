using System.Security.Cryptography;
using System.Text;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Diagnostics;
using CrossAttention.Core.Kernels;

namespace CrossAttention.Api.Observability;

/// <summary>
/// What happens to sessions, as log lines and measurements: created and ended (Information), refused (Warning),
/// looked up (a hit or a miss), and decode steps (Debug only: they are the hot path). Lines carry sizes, never tensor
/// contents, keys or session ids: without API keys an id is all it takes to read a session, so lines name a session by
/// a fingerprint (the first 12 hex digits of the id's SHA-256) that ties its lines together.
/// </summary>
public sealed partial class SessionTelemetry(CrossAttentionMetrics metrics, ILogger<SessionTelemetry> logger)
{
    public CrossAttentionMetrics Metrics => metrics;

    public void Created(SessionEntry session, string? owner)
    {
        metrics.LiveKeyValueBytes(session.Encoded.ElementType, session.KvBytes);
        LogCreated(Fingerprint(session.Id), session.ModelName, session.Encoded.SourceLength, session.Encoded.ElementType.Name(),
            session.KvBytes, string.IsNullOrEmpty(owner) ? "-" : owner);
    }

    /// <param name="reason">deleted or expired</param>
    public void Ended(SessionEntry session, string reason, string? owner)
    {
        metrics.SessionEnded(reason);
        metrics.LiveKeyValueBytes(session.Encoded.ElementType, -session.KvBytes);
        LogEnded(Fingerprint(session.Id), reason, session.ModelName, session.Encoded.SourceLength,
            session.Encoded.ElementType.Name(), session.KvBytes, string.IsNullOrEmpty(owner) ? "-" : owner);
    }

    /// <param name="reason">a short token for the metric's tag: cache_full, id_taken, …</param>
    public void Refused(string reason, int status, string model, long bytes, string? owner)
    {
        metrics.Refused(reason);
        LogRefused(reason, status, model, bytes, string.IsNullOrEmpty(owner) ? "-" : owner);
    }

    /// <summary>A session refused by the store, under its metric reason (id_taken, cache_full, larger_than_cache).</summary>
    public void Refused(SessionAddResult refusal, string model, long bytes, string? owner)
    {
        if (refusal == SessionAddResult.AlreadyExists) Refused("id_taken", StatusCodes.Status409Conflict, model, bytes, owner);
        else Refused(refusal == SessionAddResult.LargerThanCapacity ? "larger_than_cache" : "cache_full",
            StatusCodes.Status507InsufficientStorage, model, bytes, owner);
    }

    public void Lookup(bool hit) => metrics.SessionLookup(hit);

    public void DecodeStep(string sessionId, string model, int layer, int rows, int sourceLength)
    {
        if (logger.IsEnabled(LogLevel.Debug)) LogDecodeStep(Fingerprint(sessionId), model, layer, rows, sourceLength);
    }

    internal static string Fingerprint(string sessionId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sessionId)), 0, 6);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information,
        Message = "Session {Session} created: model {Model}, m {SourceLength}, dtype {DType}, {Bytes} bytes, owner {Owner}")]
    private partial void LogCreated(string session, string model, int sourceLength, string dType, long bytes, string owner);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information,
        Message = "Session {Session} ended ({Reason}): model {Model}, m {SourceLength}, dtype {DType}, {Bytes} bytes, owner {Owner}")]
    private partial void LogEnded(string session, string reason, string model, int sourceLength, string dType, long bytes, string owner);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning,
        Message = "Refused ({Reason}, {Status}): model {Model}, {Bytes} bytes of K/V, owner {Owner}")]
    private partial void LogRefused(string reason, int status, string model, long bytes, string owner);

    [LoggerMessage(EventId = 103, Level = LogLevel.Debug,
        Message = "Decode step on session {Session}: model {Model}, layer {Layer}, n {Rows}, m {SourceLength}")]
    private partial void LogDecodeStep(string session, string model, int layer, int rows, int sourceLength);
}
