using CrossAttention.Api.Features;
using CrossAttention.Api.Models;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Engine;
using CrossAttention.Core.Models;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// A live session for Swagger UI's examples, so "Try it out" on a decode step works as shown. It is an ordinary
/// session (it can be deleted, or expire); the next time the document is generated a new one is encoded.
/// </summary>
public sealed class ExampleSession(ModelCatalog catalog, ISessionStore store, TimeProvider time, IOptions<CrossAttentionOptions> options)
{
    public const int SourceRows = 4;
    public const int QueryRows = 1;
    private readonly Lock _lock = new();
    private string? _id;

    /// <summary>The model the examples use: the tutorial model, else the demo model, else the first one served.</summary>
    public CrossAttentionModel? Model =>
        catalog.TryGet(TutorialModel.Name, out var tutorial) ? tutorial
        : catalog.TryGet(DemoModel.Name, out var demo) ? demo : catalog.All.FirstOrDefault();

    /// <summary>The id of a live example session, encoding one if needed; null when the cache has no room for it.</summary>
    public string? EnsureId()
    {
        if (Model is not { } model) return null;
        lock (_lock)
        {
            if (_id is not null && store.GetAsync(_id, CancellationToken.None).AsTask().GetAwaiter().GetResult() is not null) return _id;
            float[] source = Values(SourceRows, model.SourceDim, 0.37);
            var encoded = model.Encode(source, SourceRows, default, ComputeOptions.Default);
            var cache = options.Value.Cache;
            var session = new SessionEntry(SessionIds.New(), model, encoded, time.GetUtcNow(),
                TimeSpan.FromSeconds(cache.MaxTtlSeconds), TimeSpan.FromSeconds(cache.MaxTtlSeconds));
            bool stored = store.AddAsync(session, CancellationToken.None).AsTask().GetAwaiter().GetResult() == SessionAddResult.Stored;
            if (!stored) encoded.Dispose();
            _id = stored ? session.Id : null;
            return _id;
        }
    }

    /// <summary>Deterministic, readable example values: [rows, columns] with two decimals.</summary>
    public static float[] Values(int rows, int columns, double phase)
    {
        var values = new float[rows * columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                values[r * columns + c] = (float)Math.Round(Math.Sin(phase * (r + 1) + 0.13 * c), 2);
        return values;
    }
}
