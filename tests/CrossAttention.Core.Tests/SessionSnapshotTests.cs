using System.Buffers;
using System.Buffers.Binary;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Sessions;

namespace CrossAttention.Core.Tests;

/// <summary>
/// A session written out and loaded back decodes bit for bit as the original, through every input form; any damaged,
/// truncated, oversized or foreign snapshot is refused with <see cref="SessionSnapshotException"/>, and every byte it
/// reserved or rented leaves the ledger.
/// </summary>
public class SessionSnapshotTests
{
    private const int Layers = 3, DModel = 32, Heads = 4;
    private static readonly CrossAttentionModel Model = DemoModel.Create(Layers, DModel, Heads, name: "snapshot-test");
    private static readonly DateTimeOffset Created = new(2026, 12, 2, 9, 30, 0, TimeSpan.Zero);
    private static readonly SessionSnapshotInfo Info = new("team-ä", Created, Created.AddHours(1), TimeSpan.FromMinutes(5));

    public enum Input { Sequence, SegmentedSequence, Stream }

    public static TheoryData<KeyValueElementType, int, bool, Input> RoundTrips()
    {
        var cases = new TheoryData<KeyValueElementType, int, bool, Input>();
        foreach (var type in Enum.GetValues<KeyValueElementType>())
        {
            cases.Add(type, 37, true, Input.Sequence);
            cases.Add(type, 37, false, Input.Stream);
            cases.Add(type, 1, false, Input.SegmentedSequence);
            cases.Add(type, 16, true, Input.Stream);
            cases.Add(type, 53, true, Input.SegmentedSequence);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public async Task LoadedSessionDecodesBitForBitAsTheOriginal(KeyValueElementType type, int m, bool masked, Input input)
    {
        var ledger = new KeyValueLedger(budgetBytes: 64 << 20, poolShareBytes: 0);
        var random = new Random(m * 7 + (int)type);
        byte[] mask = masked ? Enumerable.Range(0, m).Select(j => (byte)(j % 5 == 3 ? 0 : 1)).ToArray() : [];
        using var original = Model.Encode(RandomValues(random, m * DModel), m, mask, ComputeOptions.Default, ledger.Pool, type);
        byte[] blob = WriteToArray(original, Info);

        var header = SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), long.MaxValue);
        Assert.Equal((Model.Name, "team-ä", Layers, m, Heads, DModel / Heads, type, masked && m > 3),
            (header.ModelName, header.Owner, header.Layers, header.SourceLength, header.Heads, header.HeadDim, header.ElementType, header.HasMask));
        Assert.Equal((Info.CreatedAt, Info.AbsoluteExpiry, Info.SlidingTtl), (header.CreatedAt, header.AbsoluteExpiry, header.SlidingTtl));
        Assert.Equal(blob.Length, header.TotalBytes);

        using (var loaded = await LoadAsync(blob, input, ledger))
        {
            Assert.Equal(original.Bytes, loaded.Bytes);
            Assert.Equal(header.EncodedBytes, loaded.Bytes);
            Assert.Equal(original.ElementType, loaded.ElementType);
            var queries = RandomValues(random, 3 * DModel);
            for (int layer = 0; layer < Layers; layer++)
            {
                var (expectedOutput, expectedAttention) = Decode(Model.Layers[layer], original.Layers[layer], queries, m);
                var (output, attention) = Decode(Model.Layers[layer], loaded.Layers[layer], queries, m);
                Assert.Equal(Bits(expectedOutput), Bits(output));
                Assert.Equal(Bits(expectedAttention), Bits(attention));
                Assert.True(original.Layers[layer].KeyRegion.SequenceEqual(loaded.Layers[layer].KeyRegion));
                Assert.True(original.Layers[layer].ValueRegion.SequenceEqual(loaded.Layers[layer].ValueRegion));
                Assert.True(original.Layers[layer].KeepRegion.SequenceEqual(loaded.Layers[layer].KeepRegion));
            }
        }
        original.Dispose();
        Assert.Equal(default, Counted(ledger));
    }

    [Fact]
    public async Task RegionsLargerThanOneReadChunkLoadWhole()
    {
        // m 300 × 256 float32: 300 KiB per region, several of the loader's read chunks; a chunk read to the wrong place
        // still hashes right (the bytes arrive in order), so only comparing the regions shows it.
        var model = DemoModel.Create(layers: 2, dModel: 256, heads: 4, name: "snapshot-large");
        var ledger = new KeyValueLedger(budgetBytes: 64 << 20, poolShareBytes: 0);
        const int m = 300;
        using var original = model.Encode(RandomValues(new Random(3), m * 256), m, [], ComputeOptions.Default, ledger.Pool);
        byte[] blob = WriteToArray(original, Info);
        using (var viaStream = await LoadStreamAsync(blob, ledger, model))
        using (var viaSegments = LoadSequence(blob, ledger, SplitEvery(blob, 4093), model))
        {
            for (int layer = 0; layer < 2; layer++)
            {
                Assert.True(original.Layers[layer].KeyRegion.SequenceEqual(viaStream.Layers[layer].KeyRegion));
                Assert.True(original.Layers[layer].ValueRegion.SequenceEqual(viaStream.Layers[layer].ValueRegion));
                Assert.True(original.Layers[layer].KeyRegion.SequenceEqual(viaSegments.Layers[layer].KeyRegion));
                Assert.True(original.Layers[layer].ValueRegion.SequenceEqual(viaSegments.Layers[layer].ValueRegion));
            }
        }
        Assert.Equal(default, Counted(ledger));
    }

    public enum Overflow { None, FirstKeyOfLayer0, LastValueOfLayer1 }

    [Theory]
    [InlineData(Overflow.None, Input.Sequence)]
    [InlineData(Overflow.None, Input.Stream)]
    [InlineData(Overflow.FirstKeyOfLayer0, Input.SegmentedSequence)]
    [InlineData(Overflow.LastValueOfLayer1, Input.Sequence)]
    [InlineData(Overflow.LastValueOfLayer1, Input.Stream)]
    public async Task LoadedFloat16CacheKnowsWhetherItHoldsInfWithoutAScan(Overflow overflow, Input input)
    {
        // m 300 × 256 float16: a layer's values span two of the loader's read chunks, the last element in the second.
        var model = DemoModel.Create(layers: 2, dModel: 256, heads: 4, name: "snapshot-large");
        const int m = 300;
        var ledger = new KeyValueLedger(budgetBytes: 64 << 20, poolShareBytes: 0);
        var random = new Random(5);
        var layers = new KeyValueCache[2];
        for (int l = 0; l < 2; l++)
        {
            float[] keys = RandomValues(random, m * 256), values = RandomValues(random, m * 256); // [m, heads·headDim]
            if (overflow == Overflow.FirstKeyOfLayer0 && l == 0) keys[0] = 1e5f;     // past ±65504: stored as +Inf
            if (overflow == Overflow.LastValueOfLayer1 && l == 1) values[^1] = -1e5f;
            layers[l] = KeyValueCache.Create(keys, values, m, heads: 4, headDim: 64, mask: [], elementType: KeyValueElementType.Float16);
        }
        bool[] expected = [overflow == Overflow.FirstKeyOfLayer0, overflow == Overflow.LastValueOfLayer1];
        using var original = new EncodedSource(model.Name, layers);
        Assert.Equal(expected, original.Layers.Select(l => l.HoldsNonFiniteValues())); // the overflow is there to find
        byte[] blob = WriteToArray(original, Info);

        using (var loaded = await LoadAsync(blob, input, ledger, model))
        {
            Assert.All(loaded.Layers, layer => Assert.True(layer.FinitenessKnown)); // found while copying, before any step
            Assert.Equal(expected, loaded.Layers.Select(l => l.HoldsNonFiniteValues()));
            Assert.Equal(expected, loaded.Layers.Select(l => !l.View.AllFinite)); // what the decode kernels are told
        }
        Assert.Equal(default, Counted(ledger));
    }

    [Fact]
    public async Task StreamAndBufferWriterWriteTheSameBytes()
    {
        using var source = Encode(KeyValueElementType.BFloat16, m: 21, masked: true, pool: null);
        byte[] viaWriter = WriteToArray(source, Info);
        using var stream = new MemoryStream();
        long written = await SessionSnapshot.WriteAsync(source, Info, stream, CancellationToken.None);
        Assert.Equal(viaWriter.Length, written);
        Assert.Equal(viaWriter, stream.ToArray());
        Assert.Equal(written, SessionSnapshot.Describe(source, Info).TotalBytes);
    }

    [Fact]
    public void RegionsLieAtTheDocumentedAlignedOffsets()
    {
        using var source = Encode(KeyValueElementType.Float16, m: 19, masked: true, pool: null);
        byte[] blob = WriteToArray(source, Info);
        var layout = source.Layers[0].Layout;
        // docs/session-format.md: header (80 + names, to 64), keep region, then keys and values per layer, each to 64.
        int headerBytes = BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(10));
        Assert.Equal(Align(80 + "snapshot-test".Length + "team-ä"u8.Length), headerBytes);
        Assert.Equal("CAKVSNAP"u8.ToArray(), blob[..8]);
        long offset = headerBytes;
        Assert.True(blob.AsSpan((int)offset, (int)layout.KeepBytes).SequenceEqual(source.Layers[0].KeepRegion));
        offset += Align(layout.KeepBytes);
        foreach (var layer in source.Layers)
        {
            Assert.Equal(0, offset % 64);
            Assert.True(blob.AsSpan((int)offset, (int)layout.KeyBytes).SequenceEqual(layer.KeyRegion));
            offset += Align(layout.KeyBytes);
            Assert.True(blob.AsSpan((int)offset, (int)layout.ValueBytes).SequenceEqual(layer.ValueRegion));
            offset += Align(layout.ValueBytes);
        }
        Assert.Equal(blob.Length, offset);
    }

    [Fact]
    public async Task EveryTruncatedPrefixIsRefused()
    {
        var ledger = new KeyValueLedger(budgetBytes: 1 << 20, poolShareBytes: 0);
        byte[] blob = SmallBlob();
        for (int length = 0; length < blob.Length; length++)
        {
            var prefix = blob[..length];
            Assert.Throws<SessionSnapshotException>(() => LoadSequence(prefix, ledger, SplitEvery(prefix, 1 + length % 97)));
            await Assert.ThrowsAsync<SessionSnapshotException>(() => LoadStreamAsync(prefix, ledger));
            Assert.Equal(default, Counted(ledger));
        }
    }

    [Fact]
    public async Task EveryFlippedBitIsRefused()
    {
        var ledger = new KeyValueLedger(budgetBytes: 1 << 20, poolShareBytes: 0);
        byte[] blob = SmallBlob();
        for (int position = 0; position < blob.Length; position++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                var damaged = (byte[])blob.Clone();
                damaged[position] ^= (byte)(1 << bit);
                var refused = Assert.Throws<SessionSnapshotException>(() => LoadSequence(damaged, ledger, new ReadOnlySequence<byte>(damaged)));
                if (bit == 0) await Assert.ThrowsAsync<SessionSnapshotException>(() => LoadStreamAsync(damaged, ledger));
                Assert.Equal(default, Counted(ledger));
                if (position >= BinaryPrimitives.ReadUInt16LittleEndian(blob.AsSpan(10)))
                    Assert.True(refused.Problem is SessionSnapshotProblem.ChecksumMismatch or SessionSnapshotProblem.Malformed, refused.Message);
            }
        }
    }

    [Fact]
    public void RandomlyDamagedSnapshotsAreRefused()
    {
        var ledger = new KeyValueLedger(budgetBytes: 1 << 20, poolShareBytes: 0);
        byte[] blob = SmallBlob();
        var random = new Random(2026);
        for (int trial = 0; trial < 2000; trial++)
        {
            var damaged = (byte[])blob.Clone();
            int changes = 1 + random.Next(8);
            for (int i = 0; i < changes; i++) damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            if (damaged.AsSpan().SequenceEqual(blob)) continue;
            Assert.Throws<SessionSnapshotException>(() => LoadSequence(damaged, ledger, new ReadOnlySequence<byte>(damaged)));
            Assert.Equal(default, Counted(ledger));
        }
    }

    [Fact]
    public void TrailingBytesAreRefused()
    {
        byte[] blob = [.. SmallBlob(), 0];
        var refused = Assert.Throws<SessionSnapshotException>(() => SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), long.MaxValue));
        Assert.Equal(SessionSnapshotProblem.Malformed, refused.Problem);
    }

    [Fact]
    public void SnapshotLargerThanTheCallerAllowsIsRefusedBeforeAnythingIsReserved()
    {
        byte[] blob = SmallBlob();
        var refused = Assert.Throws<SessionSnapshotException>(() => SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), blob.Length - 1));
        Assert.Equal(SessionSnapshotProblem.Oversized, refused.Problem);
        Assert.Equal(blob.Length, SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), blob.Length).TotalBytes);
    }

    [Fact]
    public void HeaderDeclaringRegionsNoBufferHoldsIsRefused()
    {
        byte[] blob = SmallBlob();
        BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(20), int.MaxValue);  // m
        BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(24), int.MaxValue);  // heads
        var refused = Assert.Throws<SessionSnapshotException>(() => SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), long.MaxValue));
        Assert.Equal(SessionSnapshotProblem.Oversized, refused.Problem);
    }

    [Fact]
    public void OtherFormatsAndVersionsAreNamedAsSuch()
    {
        byte[] blob = SmallBlob();
        var version = (byte[])blob.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(version.AsSpan(8), 2);
        Assert.Equal(SessionSnapshotProblem.UnsupportedVersion,
            Assert.Throws<SessionSnapshotException>(() => SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(version), long.MaxValue)).Problem);
        byte[] safetensors = [.. new byte[8], .. "{\"__metadata__\":{}}"u8, .. new byte[100]];
        Assert.Equal(SessionSnapshotProblem.NotASnapshot,
            Assert.Throws<SessionSnapshotException>(() => SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(safetensors), long.MaxValue)).Problem);
    }

    [Theory]
    [InlineData("another-name", Layers, Heads)]
    [InlineData("snapshot-test", Layers + 1, Heads)]
    [InlineData("snapshot-test", Layers, Heads * 2)]
    public void SnapshotOfAnotherModelIsRefusedBeforeAnyAllocation(string name, int layers, int heads)
    {
        var ledger = new KeyValueLedger(budgetBytes: 1 << 20, poolShareBytes: 0);
        byte[] blob = SmallBlob();
        var other = DemoModel.Create(layers, DModel, heads, name);
        var header = SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), long.MaxValue);
        Assert.Equal(SessionSnapshotProblem.WrongModel, Assert.Throws<SessionSnapshotException>(() => header.EnsureMatches(other)).Problem);
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(header.EncodedBytes, false, out var reservation));
        using (reservation)
        {
            var refused = Assert.Throws<SessionSnapshotException>(() =>
                SessionSnapshot.Load(header, new ReadOnlySequence<byte>(blob), other, reservation!, ledger.Pool));
            Assert.Equal(SessionSnapshotProblem.WrongModel, refused.Problem);
        }
        Assert.Equal(default, Counted(ledger));
    }

    [Fact]
    public void SnapshotOfAnEndedOrLongerLivedSessionIsRefusedWithItsReason()
    {
        // Info: created at 09:30, ends at 10:30, sliding TTL 5 min.
        var header = SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(SmallBlob()), long.MaxValue);
        var (sliding, lifetime) = (TimeSpan.FromMinutes(5), TimeSpan.FromHours(1));
        header.EnsureLive(Info.AbsoluteExpiry.AddTicks(-1), sliding, lifetime); // the limits themselves are allowed

        var ended = Assert.Throws<SessionSnapshotException>(() => header.EnsureLive(Info.AbsoluteExpiry, sliding, lifetime));
        Assert.Equal(SessionSnapshotProblem.Expired, ended.Problem);
        Assert.Contains("lifetime ended at 2026-12-02T10:30:00", ended.Message);

        var longerSliding = Assert.Throws<SessionSnapshotException>(() =>
            header.EnsureLive(Created, sliding - TimeSpan.FromSeconds(1), lifetime));
        Assert.Equal(SessionSnapshotProblem.TtlAboveLimit, longerSliding.Problem);
        Assert.Contains("sliding TTL of 300 s is above the 299 s", longerSliding.Message);

        var longerLived = Assert.Throws<SessionSnapshotException>(() =>
            header.EnsureLive(Created, sliding, lifetime - TimeSpan.FromSeconds(1)));
        Assert.Equal(SessionSnapshotProblem.TtlAboveLimit, longerLived.Problem);
        Assert.Contains("lifetime of 3600 s", longerLived.Message);
    }

    [Fact]
    public void LoadingNeedsTheBytesReservedFirst()
    {
        var ledger = new KeyValueLedger(budgetBytes: 1 << 20, poolShareBytes: 0);
        byte[] blob = SmallBlob();
        var header = SessionSnapshotHeader.Read(new ReadOnlySequence<byte>(blob), long.MaxValue);
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(header.EncodedBytes - 1, false, out var reservation));
        using (reservation)
            Assert.Throws<ArgumentException>(() => SessionSnapshot.Load(header, new ReadOnlySequence<byte>(blob), Model, reservation!, ledger.Pool));
        Assert.Equal(default, Counted(ledger));
    }

    [Fact]
    public void EndedSessionCannotBeWritten()
    {
        var source = Encode(KeyValueElementType.Float32, m: 4, masked: false, pool: null);
        source.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SessionSnapshot.Write(source, Info, new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public void WritingHoldsALeaseSoTheBuffersOutliveAnEndDuringTheWrite()
    {
        var source = Encode(KeyValueElementType.Float32, m: 4, masked: false, pool: null);
        var writer = new EndingWriter(source);
        SessionSnapshot.Write(source, Info, writer);
        Assert.True(writer.EndedWhileWriting);
        Assert.All(source.Layers, layer => Assert.True(layer.IsDisposed)); // released once the write let go
    }

    // 2 layers of m = 5 in float16 with a mask: ~1 KiB, small enough to damage at every bit.
    private static byte[] SmallBlob()
    {
        using var source = Encode(KeyValueElementType.Float16, m: 5, masked: true, pool: null);
        return WriteToArray(source, Info);
    }

    private static EncodedSource Encode(KeyValueElementType type, int m, bool masked, KeyValueBufferPool? pool)
    {
        byte[] mask = masked ? Enumerable.Range(0, m).Select(j => (byte)(j == 1 ? 0 : 1)).ToArray() : [];
        return Model.Encode(RandomValues(new Random(m), m * DModel), m, mask, ComputeOptions.Default, pool, type);
    }

    private static byte[] WriteToArray(EncodedSource source, SessionSnapshotInfo info)
    {
        var writer = new ArrayBufferWriter<byte>();
        long written = SessionSnapshot.Write(source, info, writer);
        Assert.Equal(writer.WrittenCount, written);
        return writer.WrittenSpan.ToArray();
    }

    private static async Task<EncodedSource> LoadAsync(byte[] blob, Input input, KeyValueLedger ledger, CrossAttentionModel? model = null) =>
        input switch
        {
            Input.Sequence => LoadSequence(blob, ledger, new ReadOnlySequence<byte>(blob), model),
            Input.SegmentedSequence => LoadSequence(blob, ledger, SplitEvery(blob, 100), model),
            _ => await LoadStreamAsync(blob, ledger, model),
        };

    // What a store does: header, reservation, load, holding; a refusal gives the reservation back.
    private static EncodedSource LoadSequence(byte[] blob, KeyValueLedger ledger, ReadOnlySequence<byte> snapshot,
        CrossAttentionModel? model = null)
    {
        model ??= Model;
        Assert.Equal(blob.Length, snapshot.Length);
        var header = SessionSnapshotHeader.Read(snapshot, ledger.BudgetBytes);
        header.EnsureMatches(model);
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(header.EncodedBytes, false, out var reservation));
        using (reservation)
            return Held(SessionSnapshot.Load(header, snapshot, model, reservation!, ledger.Pool), ledger, reservation!);
    }

    private static async Task<EncodedSource> LoadStreamAsync(byte[] blob, KeyValueLedger ledger, CrossAttentionModel? model = null)
    {
        model ??= Model;
        using var stream = new TrickleStream(blob);
        var header = await SessionSnapshotHeader.ReadAsync(stream, ledger.BudgetBytes, CancellationToken.None);
        header.EnsureMatches(model);
        Assert.Equal(KeyValueReservationResult.Reserved, ledger.TryReserve(header.EncodedBytes, false, out var reservation));
        using (reservation)
        {
            var loaded = await SessionSnapshot.LoadAsync(header, stream, model, reservation!, ledger.Pool, CancellationToken.None);
            return Held(loaded, ledger, reservation!);
        }
    }

    private static EncodedSource Held(EncodedSource source, KeyValueLedger ledger, KeyValueReservation reservation)
    {
        var holding = ledger.Hold(reservation, source.Bytes, new Holder());
        source.OnReleased(holding.Release);
        return source;
    }

    // Reserved, live and leased bytes (the pool keeps nothing with a share of 0).
    private static KeyValueLedgerSnapshot Counted(KeyValueLedger ledger) => ledger.Snapshot with { BudgetBytes = 0 };

    private static (float[] Output, float[] Attention) Decode(CrossAttentionLayer layer, KeyValueCache cache, float[] queries, int m)
    {
        int n = queries.Length / DModel;
        var output = new float[n * DModel];
        var attention = new float[Heads * n * m];
        layer.Decode(cache, queries, n, output, attention, ComputeOptions.Default);
        return (output, attention);
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static long Align(long bytes) => (bytes + 63) / 64 * 64;

    private static float[] RandomValues(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();

    private static ReadOnlySequence<byte> SplitEvery(byte[] bytes, int size)
    {
        if (bytes.Length == 0) return ReadOnlySequence<byte>.Empty;
        Segment first = new(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0), last = first;
        for (int start = size; start < bytes.Length; start += size)
            last = last.Append(bytes.AsMemory(start, Math.Min(size, bytes.Length - start)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>A network-like stream: each read returns at most 13 bytes, so every read of a region takes several.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 13));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, 13)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, 13)], cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            base.ReadAsync(buffer, offset, Math.Min(count, 13), cancellationToken);
    }

    /// <summary>Ends the session when the first bytes arrive, as a delete racing a write would.</summary>
    private sealed class EndingWriter(EncodedSource source) : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new();

        public bool EndedWhileWriting { get; private set; }

        public void Advance(int count)
        {
            _inner.Advance(count);
            if (EndedWhileWriting) return;
            source.Dispose();
            EndedWhileWriting = !source.Layers[0].IsDisposed;
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint);
    }

    private sealed class Holder : IKeyValueHolder
    {
        public long LastUsedTicks => 0;
        public bool InUse => false;
        public void Evict() { }
    }
}
