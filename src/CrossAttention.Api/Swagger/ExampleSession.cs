using CrossAttention.Core.Scheduling;
using CrossAttention.Api.Auth;
using CrossAttention.Api.Catalog;
using CrossAttention.Api.Infrastructure;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Models;
using Microsoft.Extensions.Options;

namespace CrossAttention.Api.Swagger;

/// <summary>
/// The session Swagger UI's examples name, so "Try it out" on a decode step works as shown. Its id is fixed for the
/// life of the process (the document is the same on every fetch); nothing is encoded to show the document: the
/// session is encoded on the compute scheduler the first time a request names it, and again after it is deleted
/// or expires (see <see cref="ExampleSessionStore"/>).
/// </summary>
public sealed class ExampleSession(ModelCatalog catalog, ComputeGate gate, KeyValueBufferPool pool, TimeProvider time,
    IOptions<CrossAttentionOptions> options)
{
    public const int SourceRows = 4;
    public const int QueryRows = 1;

    /// <summary>The id the examples show for an existing session.</summary>
    public string Id { get; } = SessionIds.New();

    /// <summary>The id the PUT example shows: a fresh one, free until someone PUTs it.</summary>
    public string NewId { get; } = SessionIds.New();

    /// <summary>The model the examples use: the tutorial model, else the demo model, else the first one served.</summary>
    public CrossAttentionModel? Model =>
        catalog.TryGet(TutorialModel.Name, out var tutorial) ? tutorial
        : catalog.TryGet(DemoModel.Name, out var demo) ? demo : catalog.All.FirstOrDefault();

    /// <summary>
    /// Encodes the example session's source for the caller's key (not yet stored); null when no model is served. Each key
    /// gets its own example session under the same id, as sessions are owned by the key that created them.
    /// </summary>
    internal async ValueTask<SessionEntry?> EncodeAsync(CrossAttentionModel model, SessionKey key, CancellationToken cancellationToken)
    {
        float[] source = Values(SourceRows, model.SourceDim, 0.37);                 // [m, d_src]
        var encoded = await gate.EncodeAsync(model, source, SourceRows, mask: default, pool, cancellationToken);
        var lifetime = TimeSpan.FromSeconds(options.Value.Cache.MaxTtlSeconds);
        return new SessionEntry(key, model, encoded, time.GetUtcNow(), lifetime, lifetime);
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
