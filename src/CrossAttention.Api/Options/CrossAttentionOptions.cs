using CrossAttention.Core.Kernels;

namespace CrossAttention.Api.Options;

/// <summary>The service's settings: section <c>CrossAttention</c> of appsettings.json (env <c>CrossAttention__…</c>).</summary>
public sealed class CrossAttentionOptions
{
    public const string SectionName = "CrossAttention";

    /// <summary>Each subfolder is a model named after the folder; null or empty serves the demo model only.</summary>
    public string? ModelsDirectory { get; set; }

    public CacheOptions Cache { get; set; } = new();
    public LimitsOptions Limits { get; set; } = new();
    public DemoOptions Demo { get; set; } = new();
    public BatchingOptions Batching { get; set; } = new();
    public ComputeSettings Compute { get; set; } = new();
    public SwaggerSettings Swagger { get; set; } = new();
    public TutorialOptions Tutorial { get; set; } = new();

    /// <summary>
    /// What every model's q, k, v and output weights are stored as: float32 (default), float16 or bfloat16 (half the
    /// bytes a decode step reads, within the accuracy bounds the README states). Biases stay float32.
    /// </summary>
    public string WeightsDtype { get; set; } = "float32";

    /// <summary>Settings of one model by its name (a ModelsDirectory folder's name, demo or tutorial).</summary>
    public Dictionary<string, ModelOverrideOptions> ModelOverrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The weights type of the model of this name: its override, else <see cref="WeightsDtype"/> (both validated at start).</summary>
    internal KeyValueElementType WeightsTypeFor(string modelName)
    {
        string? dtype = ModelOverrides.TryGetValue(modelName, out var model) && model.WeightsDtype is { } own ? own : WeightsDtype;
        return KeyValueElementTypes.TryParse(dtype, out var weightsType) ? weightsType
            : throw new InvalidOperationException($"Weights dtype '{dtype}' of model '{modelName}' passed no validation.");
    }

    /// <summary>
    /// How long in-flight requests may take to finish once stopping begins (HostOptions.ShutdownTimeout). Keep
    /// preStop + this + a margin within the pod's terminationGracePeriodSeconds.
    /// </summary>
    public int ShutdownTimeoutSeconds { get; set; } = 20;
}

/// <summary>What one model overrides of the service-wide settings.</summary>
public sealed class ModelOverrideOptions
{
    /// <summary>float32, float16 or bfloat16 for this model's weights; null keeps CrossAttention:WeightsDtype.</summary>
    public string? WeightsDtype { get; set; }
}

/// <summary>The OpenAPI document (/swagger/v1/swagger.json) and Swagger UI (/swagger).</summary>
public sealed class SwaggerSettings
{
    /// <summary>On by default (users browse it); false serves neither the UI nor the document.</summary>
    public bool Enabled { get; set; } = true;
}

public sealed class CacheOptions
{
    public const string Reject = "reject";
    public const string EvictLeastRecentlyUsed = "evict-lru";

    /// <summary>
    /// Every K/V byte the process holds: live sessions, ended sessions a decode step still reads, encodes in progress
    /// (reserved before they compute) and idle recycled buffers. What happens when an encode does not fit is
    /// <see cref="WhenFull"/>.
    /// </summary>
    public long SizeLimitBytes { get; set; } = 1L << 30;

    /// <summary>
    /// <c>reject</c> (default): a new session that does not fit gets 507 with Retry-After, and sessions are never evicted.
    /// <c>evict-lru</c>: the least recently used sessions no decode step is reading are ended to make room.
    /// </summary>
    public string WhenFull { get; set; } = Reject;

    internal static bool IsEvictLeastRecentlyUsed(string? whenFull) =>
        string.Equals(whenFull, EvictLeastRecentlyUsed, StringComparison.OrdinalIgnoreCase);

    internal static bool IsKnownWhenFull(string? whenFull) =>
        string.Equals(whenFull, Reject, StringComparison.OrdinalIgnoreCase) || IsEvictLeastRecentlyUsed(whenFull);

    /// <summary>Sliding time-to-live of a session when the encode request names none.</summary>
    public int DefaultTtlSeconds { get; set; } = 600;

    /// <summary>A session never outlives this many seconds after its creation, however often it is used.</summary>
    public int MaxTtlSeconds { get; set; } = 3600;

    /// <summary>
    /// Most bytes of K/V buffers from ended sessions kept for reuse by new ones (fresh memory costs a page fault per
    /// 4 KiB on first write): a share of SizeLimitBytes, not on top of it (capped at it), and given up before an encode
    /// is refused. 0 turns recycling off.
    /// </summary>
    public long RecycledBytesLimit { get; set; } = 256L << 20;

    /// <summary>
    /// What a session stores K and V as when its encode names no <c>kvDtype</c>: float32, float16 or bfloat16 (half
    /// the bytes, within the accuracy bounds the README states).
    /// </summary>
    public string KvDtype { get; set; } = "float32";
}

public sealed class LimitsOptions
{
    /// <summary>Most source positions (m) one encode or attention request may send.</summary>
    public int MaxSourceLength { get; set; } = 4096;

    /// <summary>Most query rows (n) one decode step or attention request may send.</summary>
    public int MaxQueries { get; set; } = 256;

    /// <summary>Largest request body, in bytes; larger bodies get 413.</summary>
    public long MaxRequestBytes { get; set; } = 32L << 20;

    /// <summary>
    /// Most attention rows a recording session keeps per layer (a decode step of n queries records n). A session with
    /// recordAttention is charged this many rows of [heads, m] per layer from its encode on; a step past it is refused.
    /// </summary>
    public int MaxRecordedSteps { get; set; } = 256;

    /// <summary>
    /// Bytes all requests together may hold at once: bodies being read (reserved as they arrive), parsed matrices,
    /// response buffers. A request that would go over is refused at once with 503 + Retry-After.
    /// </summary>
    public long MaxInFlightBytes { get; set; } = 256L << 20;

    /// <summary>Largest response one request may produce (JSON estimated at 16 bytes per value); above it, 400 naming the raw form.</summary>
    public long MaxResponseBytes { get; set; } = 64L << 20;

    /// <summary>
    /// A request body must arrive within this many seconds (408 otherwise, and what it held is released). 120 s carries
    /// the default 32 MiB MaxRequestBytes at 280 KB/s (~2.2 Mbit/s).
    /// </summary>
    public int RequestBodyTimeoutSeconds { get; set; } = 120;

    /// <summary>
    /// Requests to /encode, PUT /sessions/{id} and /attention that may parse and compute at once. A permit is taken
    /// once the body has arrived, so a client trickling its body holds none.
    /// </summary>
    public int MaxConcurrentExpensiveRequests { get; set; } = 4;

    /// <summary>Expensive requests whose bodies have arrived that may wait for one of those permits; beyond them, 503 + Retry-After.</summary>
    public int ExpensiveRequestQueueLength { get; set; } = 16;

    /// <summary>
    /// Expensive requests admitted at once (bodies arriving, waiting or computing), checked before the body is read;
    /// beyond them 503 + Retry-After at once, so a refusal costs nothing.
    /// </summary>
    public int MaxAdmittedExpensiveRequests { get; set; } = 64;
}

/// <summary>The built-in model with seeded weights, served as <c>demo</c>.</summary>
public sealed class DemoOptions
{
    public bool Enabled { get; set; } = true;
    public int Layers { get; set; } = 2;
    public int DModel { get; set; } = 64;
    public int Heads { get; set; } = 4;
}

/// <summary>The built-in textbook example ("I am student" → "मैं छात्र हूँ"), served as <c>tutorial</c>.</summary>
public sealed class TutorialOptions
{
    public bool Enabled { get; set; } = true;
}

/// <summary>How decode steps that wait for a core are run together.</summary>
public sealed class BatchingOptions
{
    /// <summary>
    /// Most query rows one batch of waiting decode steps (same layer) may hold; 1 runs every step alone. A batch reads
    /// the layer's weights once, and each session's K/V once, for all of its steps.
    /// </summary>
    public int MaxRows { get; set; } = 64;

    /// <summary>
    /// Most decode steps that may wait for a core at once; one more is refused with 503 + Retry-After before anything is
    /// computed (a longer queue only adds latency to every step behind it).
    /// </summary>
    public int MaxQueuedSteps { get; set; } = 1024;
}

/// <summary>How the kernels run.</summary>
public sealed class ComputeSettings
{
    /// <summary>
    /// Forces one kernel variant (Scalar, Vector128, Vector256, Vector512) for every computation; empty uses the widest
    /// this CPU has. For tests, benchmarks and bug reports: every variant computes the same function.
    /// </summary>
    public string? Variant { get; set; }
}
