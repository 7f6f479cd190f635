using System.Buffers;
using CrossAttention.Api.Options;
using CrossAttention.Api.Sessions;
using CrossAttention.Core.Alignment;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Sessions;
using Microsoft.Extensions.Time.Testing;

namespace CrossAttention.Api.Tests.Sessions;

/// <summary>
/// What a shared tier does between two replicas: one writes a stored session out, the other loads it into its own store
/// through the ordinary reservation, serves it bit for bit, and ends it with every byte leaving its ledger.
/// </summary>
public sealed class SessionSnapshotStoreTests : IDisposable
{
    private static readonly CrossAttentionModel Model = DemoModel.Create(layers: 2, dModel: 64, heads: 4);
    private static readonly SessionKey Key = new("team-a", "q8Zr2mXkT0vW3nBy7LpA1c");
    private static readonly TimeSpan MaxTtl = TimeSpan.FromSeconds(new CrossAttentionOptions().Cache.MaxTtlSeconds); // 1 h
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
    private readonly KeyValueLedger _ledgerA = new(16 << 20, 0), _ledgerB = new(16 << 20, 0);
    private readonly InProcessSessionStore _replicaA, _replicaB;

    public SessionSnapshotStoreTests()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new CrossAttentionOptions());
        _replicaA = new InProcessSessionStore(_ledgerA, options, _time);
        _replicaB = new InProcessSessionStore(_ledgerB, options, _time);
    }

    public void Dispose()
    {
        _replicaA.Dispose();
        _replicaB.Dispose();
    }

    [Theory]
    [InlineData(KeyValueElementType.Float32)]
    [InlineData(KeyValueElementType.Float16)]
    [InlineData(KeyValueElementType.BFloat16)]
    public async Task AnotherReplicaServesTheLoadedSessionBitForBit(KeyValueElementType type)
    {
        var original = await EncodeIntoAsync(_replicaA, _ledgerA, type, slidingTtl: TimeSpan.FromSeconds(60));
        // Kept alive on replica A for longer than its sliding TTL: the copy on B must not start out expired.
        for (int i = 0; i < 6; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(45));
            Assert.NotNull(await _replicaA.GetAsync(Key, CancellationToken.None));
        }
        var blob = new ArrayBufferWriter<byte>();
        original.WriteSnapshot(blob);

        var loaded = await LoadIntoAsync(_replicaB, _ledgerB, blob.WrittenMemory);
        Assert.Same(loaded, await _replicaB.GetAsync(Key, CancellationToken.None));
        Assert.Equal((original.CreatedAt, original.AbsoluteExpiry, original.SlidingTtl), (loaded.CreatedAt, loaded.AbsoluteExpiry, loaded.SlidingTtl));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(60), loaded.ExpiresAt);
        Assert.Equal(original.KvBytes, loaded.KvBytes);
        Assert.Equal(loaded.KvBytes, _ledgerB.Snapshot.LiveBytes);

        var queries = Enumerable.Range(0, 2 * 64).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        for (int layer = 0; layer < Model.Layers.Count; layer++)
            Assert.Equal(Decode(original, layer, queries), Decode(loaded, layer, queries));

        Assert.True(await _replicaB.RemoveAsync(Key, CancellationToken.None));
        Assert.Equal(0, _ledgerB.Snapshot.TotalBytes);
        Assert.Same(original, await _replicaA.GetAsync(Key, CancellationToken.None)); // A's own copy is untouched
    }

    [Fact]
    public async Task SnapshotUnderAnotherOwnersKeyIsRefusedAndItsRoomGivenBack()
    {
        var original = await EncodeIntoAsync(_replicaA, _ledgerA, KeyValueElementType.Float32, TimeSpan.FromMinutes(5));
        var blob = new ArrayBufferWriter<byte>();
        original.WriteSnapshot(blob);
        var refused = await RefusedLoadAsync(Key with { Owner = "team-b" }, blob.WrittenMemory, MaxTtl);
        Assert.Equal(SessionSnapshotProblem.WrongOwner, refused.Problem);
    }

    [Fact]
    public async Task SnapshotOfASessionPastItsLifetimeIsRefusedAndItsRoomGivenBack()
    {
        var original = await EncodeIntoAsync(_replicaA, _ledgerA, KeyValueElementType.Float32, TimeSpan.FromMinutes(5)); // lives 1 h
        var blob = new ArrayBufferWriter<byte>();
        original.WriteSnapshot(blob);
        _time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromTicks(1));
        var header = SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob.WrittenMemory), _ledgerB.BudgetBytes);
        header.EnsureLoadable(Key, Model, _time.GetUtcNow(), MaxTtl); // a tick before its end: still live

        _time.Advance(TimeSpan.FromTicks(1));
        var refused = await RefusedLoadAsync(Key, blob.WrittenMemory, MaxTtl);
        Assert.Equal(SessionSnapshotProblem.Expired, refused.Problem);
        Assert.Contains("lifetime ended at 2026-12-02T11:00:00", refused.Message);
    }

    [Theory]
    [InlineData(120, 60, "sliding TTL of 7200 s is above the 3600 s")] // a sliding TTL above this store's maximum
    [InlineData(5, 30, "lifetime of 3600 s")]                         // a lifetime above it
    public async Task SnapshotThatWouldOutliveThisStoresMaximumIsRefused(int slidingMinutes, int maxTtlMinutes, string reason)
    {
        var original = await EncodeIntoAsync(_replicaA, _ledgerA, KeyValueElementType.Float32, TimeSpan.FromMinutes(slidingMinutes));
        var blob = new ArrayBufferWriter<byte>();
        original.WriteSnapshot(blob);
        var refused = await RefusedLoadAsync(Key, blob.WrittenMemory, TimeSpan.FromMinutes(maxTtlMinutes));
        Assert.Equal(SessionSnapshotProblem.TtlAboveLimit, refused.Problem);
        Assert.Contains(reason, refused.Message);
    }

    [Fact]
    public void ASlidingTtlBeyondTheLifetimeExpiresAtTheLifetimeWithoutOverflow()
    {
        // A snapshot's header can carry any sliding TTL: the expiry must not overflow DateTimeOffset on it.
        var encoded = Model.Encode(new float[3 * 64], 3, default, ComputeOptions.Default);
        var entry = new SessionEntry(Key, Model, encoded, _time.GetUtcNow(), TimeSpan.MaxValue, TimeSpan.FromHours(1));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromHours(1), entry.ExpiresAt);
        encoded.Dispose();
    }

    [Fact]
    public void SessionThatRecordsAttentionIsNotWritten()
    {
        var encoded = Model.Encode(new float[3 * 64], 3, default, ComputeOptions.Default);
        var recording = new SessionEntry(Key, Model, encoded, _time.GetUtcNow(), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1),
            new AttentionRecorder(Model.Layers.Count, Model.Heads, 3, maxSteps: 4));
        Assert.Throws<NotSupportedException>(() => recording.WriteSnapshot(new ArrayBufferWriter<byte>()));
        encoded.Dispose();
    }

    private async Task<SessionEntry> EncodeIntoAsync(InProcessSessionStore store, KeyValueLedger ledger, KeyValueElementType type, TimeSpan slidingTtl)
    {
        const int m = 23;
        var source = Enumerable.Range(0, m * 64).Select(i => MathF.Cos(i * 0.11f)).ToArray();
        byte[] mask = Enumerable.Range(0, m).Select(j => (byte)(j % 4 == 2 ? 0 : 1)).ToArray();
        using var reservation = await store.ReserveAsync(Key, Model.EncodedBytes(m, type), CancellationToken.None);
        Assert.True(reservation.IsGranted);
        var encoded = Model.Encode(source, m, mask, ComputeOptions.Default, ledger.Pool, type);
        var session = new SessionEntry(Key, Model, encoded, _time.GetUtcNow(), slidingTtl, TimeSpan.FromHours(1));
        Assert.Equal(SessionAddResult.Stored, await store.AddAsync(session, reservation, CancellationToken.None));
        return session;
    }

    // What a shared tier's GetAsync does on a miss: header, reservation in the local store, load, add.
    private async Task<SessionEntry> LoadIntoAsync(InProcessSessionStore store, KeyValueLedger ledger, ReadOnlyMemory<byte> blob)
    {
        var snapshot = new ReadOnlySequence<byte>(blob);
        var header = SessionSnapshotHeader.Read(snapshot, ledger.BudgetBytes);
        using var reservation = await store.ReserveAsync(Key, header.EncodedBytes, CancellationToken.None);
        Assert.True(reservation.IsGranted);
        var session = SessionSnapshots.LoadSnapshot(Key, header, snapshot, Model, reservation, ledger.Pool, _time.GetUtcNow(), MaxTtl);
        Assert.Equal(SessionAddResult.Stored, await store.AddAsync(session, reservation, CancellationToken.None));
        return session;
    }

    // A refused load on replica B: refused before it reserves (EnsureLoadable) and again by the load itself, after
    // which neither the reservation nor any rented buffer is left in B's ledger, and B has no such session.
    private async Task<SessionSnapshotException> RefusedLoadAsync(SessionKey key, ReadOnlyMemory<byte> blob, TimeSpan maxTtl)
    {
        var snapshot = new ReadOnlySequence<byte>(blob);
        var header = SessionSnapshotHeader.Read(snapshot, _ledgerB.BudgetBytes);
        var early = Assert.Throws<SessionSnapshotException>(() => header.EnsureLoadable(key, Model, _time.GetUtcNow(), maxTtl));
        SessionSnapshotException refused;
        using (var reservation = await _replicaB.ReserveAsync(key, header.EncodedBytes, CancellationToken.None))
        {
            Assert.True(reservation.IsGranted);
            refused = Assert.Throws<SessionSnapshotException>(() =>
                SessionSnapshots.LoadSnapshot(key, header, snapshot, Model, reservation, _ledgerB.Pool, _time.GetUtcNow(), maxTtl));
        }
        Assert.Equal(early.Problem, refused.Problem);
        Assert.All(new[] { early, refused }, e => Assert.Equal(key.Id, e.SessionId)); // named for the log, but not in the message
        Assert.All(new[] { early, refused }, e => Assert.DoesNotContain(key.Id, e.Message));
        Assert.Equal(0, _ledgerB.Snapshot.TotalBytes);
        Assert.Null(await _replicaB.GetAsync(key, CancellationToken.None));
        return refused;
    }

    private static int[] Decode(SessionEntry session, int layer, float[] queries)
    {
        int n = queries.Length / 64;
        var output = new float[n * 64];
        var attention = new float[Model.Heads * n * session.Encoded.SourceLength];
        Model.Layers[layer].Decode(session.Encoded.Layers[layer], queries, n, output, attention, ComputeOptions.Default);
        return [.. output.Select(BitConverter.SingleToInt32Bits), .. attention.Select(BitConverter.SingleToInt32Bits)];
    }
}
