using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Sessions;

/// <summary>Who owns a session and when it ends: what a snapshot carries besides the K/V.</summary>
/// <param name="Owner">the API key name that created it (empty without keys)</param>
/// <param name="AbsoluteExpiry">when it ends however often it is used (creation + maximum lifetime)</param>
public readonly record struct SessionSnapshotInfo(string Owner, DateTimeOffset CreatedAt, DateTimeOffset AbsoluteExpiry, TimeSpan SlidingTtl);

/// <summary>
/// A session's binary form (docs/session-format.md): a header, then the K/V regions exactly as the decode kernels read
/// them in memory, each at a 64-byte offset. Writing streams the regions from the cache's own buffers; loading is a
/// bounds check and a copy straight into buffers from the pool, so a shared tier can move sessions between replicas
/// at memory speed.
/// </summary>
/// <remarks>
/// Loading takes three steps so that no byte is allocated before it is reserved:
/// <see cref="SessionSnapshotHeader.Read(ReadOnlySequence{byte}, long)"/> (checks the header), the caller's
/// <see cref="KeyValueLedger.TryReserve"/> of <see cref="SessionSnapshotHeader.EncodedBytes"/>, then
/// <see cref="Load"/> with that reservation. Whatever is wrong with the input ends in a
/// <see cref="SessionSnapshotException"/>, never in an out-of-range read or a session with other contents: the checksum
/// covers every byte.
/// </remarks>
public static class SessionSnapshot
{
    private static readonly byte[] ZeroPadding = new byte[KeyValueLayout.Alignment];
    private const int LoadChunkBytes = 128 * 1024;

    /// <summary>The header a snapshot of <paramref name="source"/> gets (its <see cref="SessionSnapshotHeader.TotalBytes"/> sizes a buffer).</summary>
    public static SessionSnapshotHeader Describe(EncodedSource source, SessionSnapshotInfo info)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(info.Owner);
        if (Encoding.UTF8.GetByteCount(source.ModelName) > SessionSnapshotHeader.MaxNameBytes ||
            Encoding.UTF8.GetByteCount(info.Owner) > SessionSnapshotHeader.MaxNameBytes)
            throw new ArgumentException($"Model names and owners are at most {SessionSnapshotHeader.MaxNameBytes} UTF-8 bytes in a snapshot.", nameof(info));
        if (info.AbsoluteExpiry < info.CreatedAt || info.SlidingTtl <= TimeSpan.Zero)
            throw new ArgumentException("A session expires after it is created, with a positive sliding TTL.", nameof(info));
        var first = source.Layers[0];
        foreach (var layer in source.Layers)
        {
            if (layer.Layout != first.Layout) throw new ArgumentException("Every layer of a session has the same layout.", nameof(source));
            if (!layer.KeepRegion.SequenceEqual(first.KeepRegion)) throw new ArgumentException("Every layer of a session has the same mask.", nameof(source));
        }
        var layout = first.Layout;
        return new SessionSnapshotHeader
        {
            ModelName = source.ModelName,
            Owner = info.Owner,
            Layers = source.Layers.Count,
            SourceLength = layout.SourceLength,
            Heads = layout.Heads,
            HeadDim = layout.HeadDim,
            ElementType = layout.ElementType,
            // The keep region is stored only when some position is padding; without one it is rebuilt as all kept.
            HasMask = MemoryMarshal.Cast<byte, uint>(first.KeepRegion)[..layout.SourceLength]
                .ContainsAnyExcept(uint.MaxValue),
            CreatedAt = info.CreatedAt.ToUniversalTime(),
            AbsoluteExpiry = info.AbsoluteExpiry.ToUniversalTime(),
            SlidingTtl = info.SlidingTtl,
        };
    }

    /// <summary>Writes the snapshot of <paramref name="source"/> to <paramref name="destination"/>; returns its length.</summary>
    /// <exception cref="ObjectDisposedException">the session has ended and its K/V are no longer readable</exception>
    public static long Write(EncodedSource source, SessionSnapshotInfo info, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return WaitCompleted(WriteCoreAsync(source, info, new BufferWriterOutput(destination), CancellationToken.None));
    }

    /// <inheritdoc cref="Write"/>
    public static ValueTask<long> WriteAsync(EncodedSource source, SessionSnapshotInfo info, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return WriteCoreAsync(source, info, new StreamOutput(destination), cancellationToken);
    }

    /// <summary>
    /// Loads the snapshot whose header <paramref name="header"/> was read from <paramref name="snapshot"/> (the whole
    /// snapshot) into buffers from <paramref name="pool"/>, for <paramref name="model"/>.
    /// </summary>
    /// <param name="reservation">at least <see cref="SessionSnapshotHeader.EncodedBytes"/>, reserved in the ledger that owns
    /// <paramref name="pool"/>; the caller turns it into a holding (<see cref="KeyValueLedger.Hold"/>) or disposes it</param>
    /// <exception cref="SessionSnapshotException">the snapshot is damaged, truncated, or of another model; nothing is kept</exception>
    public static EncodedSource Load(SessionSnapshotHeader header, ReadOnlySequence<byte> snapshot, CrossAttentionModel model,
        KeyValueReservation reservation, KeyValueBufferPool? pool)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (snapshot.Length < header.TotalBytes) throw SessionSnapshotHeader.Truncated(snapshot.Length, header.TotalBytes);
        if (snapshot.Length > header.TotalBytes)
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed, $"{snapshot.Length - header.TotalBytes} bytes follow the snapshot.");
        var payload = new SequenceInput(snapshot.Slice(header.HeaderBytes), header.HeaderBytes);
        return WaitCompleted(LoadCoreAsync(header, payload, model, reservation, pool, CancellationToken.None));
    }

    /// <summary>
    /// Loads the payload that follows the header <see cref="SessionSnapshotHeader.ReadAsync"/> read from
    /// <paramref name="stream"/>; reads exactly the snapshot's bytes.
    /// </summary>
    /// <inheritdoc cref="Load"/>
    public static ValueTask<EncodedSource> LoadAsync(SessionSnapshotHeader header, Stream stream, CrossAttentionModel model,
        KeyValueReservation reservation, KeyValueBufferPool? pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(stream);
        return LoadCoreAsync(header, new StreamInput(stream, header.HeaderBytes), model, reservation, pool, cancellationToken);
    }

    private static async ValueTask<long> WriteCoreAsync(EncodedSource source, SessionSnapshotInfo info, ISnapshotOutput output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        // A lease keeps the buffers from going back to the pool (and to another session) while they are written out.
        if (!source.TryAcquire()) throw new ObjectDisposedException(nameof(EncodedSource), "The session has ended; its K/V can no longer be read.");
        try
        {
            var header = Describe(source, info);
            byte[] headerBytes = new byte[header.HeaderBytes];
            header.Write(headerBytes);
            // The checksum goes in the header, so one pass hashes the regions before any byte leaves: the output gets
            // the cache's own memory, never a whole-session copy.
            var checksum = new XxHash3();
            checksum.Append(headerBytes);
            foreach (var region in Regions(source, header.HasMask))
            {
                checksum.Append(region.Span);
                checksum.Append(Padding(region.Length));
            }
            header = header with { Checksum = checksum.GetCurrentHashAsUInt64() };
            header.Write(headerBytes);
            await output.WriteAsync(headerBytes, cancellationToken);
            foreach (var region in Regions(source, header.HasMask))
            {
                await output.WriteAsync(region, cancellationToken);
                await output.WriteAsync(ZeroPadding.AsMemory(0, Padding(region.Length).Length), cancellationToken);
            }
            return header.TotalBytes;
        }
        finally
        {
            source.Release();
        }
    }

    // In payload order: the shared keep region (when a mask is stored), then each layer's keys and values.
    private static IEnumerable<ReadOnlyMemory<byte>> Regions(EncodedSource source, bool hasMask)
    {
        if (hasMask) yield return source.Layers[0].KeepMemory;
        foreach (var layer in source.Layers)
        {
            yield return layer.KeyMemory;
            yield return layer.ValueMemory;
        }
    }

    private static async ValueTask<EncodedSource> LoadCoreAsync(SessionSnapshotHeader header, ISnapshotInput input,
        CrossAttentionModel model, KeyValueReservation reservation, KeyValueBufferPool? pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        header.EnsureMatches(model);
        if (reservation.Bytes < header.EncodedBytes)
            throw new ArgumentException($"Loading needs {header.EncodedBytes} bytes reserved (the header's EncodedBytes); {reservation.Bytes} are.", nameof(reservation));
        var layout = header.Layout;
        // The header as parsed, written back, is the header as read: parsing accepts one byte form per value.
        byte[] headerBytes = new byte[header.HeaderBytes];
        (header with { Checksum = 0 }).Write(headerBytes);
        var checksum = new XxHash3();
        checksum.Append(headerBytes);
        byte[] padding = new byte[KeyValueLayout.Alignment];
        var caches = new List<KeyValueCache>(header.Layers);
        try
        {
            for (int i = 0; i < header.Layers; i++) caches.Add(KeyValueCache.Rent(layout, pool));
            var keep = caches[0].KeepMemory;
            if (header.HasMask) await ReadRegionAsync(input, keep, padding, checksum, scanFinite: false, cancellationToken);
            else layout.WriteKeep(default, keep.Span);
            // Only float16 reads depend on finiteness (a cheaper read when no element is ±Inf or NaN): scanned here, in
            // the chunk just copied, rather than over the whole cache on the first step. Other types stay unscanned.
            bool scanFinite = layout.ElementType == KeyValueElementType.Float16;
            foreach (var cache in caches)
            {
                bool nonFinite = await ReadRegionAsync(input, cache.KeyMemory, padding, checksum, scanFinite, cancellationToken);
                nonFinite |= await ReadRegionAsync(input, cache.ValueMemory, padding, checksum, scanFinite, cancellationToken);
                if (scanFinite) cache.RecordFiniteness(nonFinite);
                if (cache != caches[0]) keep.Span.CopyTo(cache.KeepMemory.Span);
            }
            if (checksum.GetCurrentHashAsUInt64() != header.Checksum)
                throw new SessionSnapshotException(SessionSnapshotProblem.ChecksumMismatch,
                    "the content does not match the checksum in its header: it was damaged after it was written.");
            CheckKeepLanes(layout, keep.Span);
            foreach (var cache in caches) CheckValuePadding(layout, cache.ValueRegion);
            return new EncodedSource(model.Name, caches);
        }
        catch
        {
            foreach (var cache in caches) cache.Dispose();
            throw;
        }
    }

    /// <summary>Fills <paramref name="region"/> and reads its padding; returns whether <paramref name="scanFinite"/> found ±Inf or NaN in it.</summary>
    private static async ValueTask<bool> ReadRegionAsync(ISnapshotInput input, Memory<byte> region, byte[] padding, XxHash3 checksum,
        bool scanFinite, CancellationToken cancellationToken)
    {
        bool nonFinite = false;
        // In chunks that stay in L2 between the copy, the hash and the scan, so the region crosses memory once. A chunk
        // holds whole float16 elements: it starts at an even offset.
        for (int start = 0; start < region.Length; start += LoadChunkBytes)
        {
            var chunk = region[start..Math.Min(region.Length, start + LoadChunkBytes)];
            await input.ReadAsync(chunk, cancellationToken);
            checksum.Append(chunk.Span);
            if (scanFinite && !nonFinite) nonFinite = KeyValueCache.HoldsNonFinite(chunk.Span, KeyValueElementType.Float16);
        }
        var gap = padding.AsMemory(0, Padding(region.Length).Length);
        await input.ReadAsync(gap, cancellationToken);
        if (gap.Span.ContainsAnyExcept((byte)0))
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed, "the padding between regions is not zero.");
        checksum.Append(gap.Span);
        return nonFinite;
    }

    // Written by a writer that checksummed them, these hold; checked anyway because the kernels rely on them.
    private static void CheckKeepLanes(KeyValueLayout layout, ReadOnlySpan<byte> region)
    {
        var lanes = MemoryMarshal.Cast<byte, uint>(region); // [tiles·16]
        var positions = lanes[..layout.SourceLength];
        if (positions.ContainsAnyExcept(0u, uint.MaxValue) || lanes[layout.SourceLength..].ContainsAnyExcept(0u))
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed, "the keep lanes hold values other than all ones and zero.");
        if (!positions.Contains(uint.MaxValue))
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed, "every source position is padding.");
    }

    private static void CheckValuePadding(KeyValueLayout layout, ReadOnlySpan<byte> region)
    {
        if (region[^(KeyValueLayout.ValuePadding * layout.ElementSize)..].ContainsAnyExcept((byte)0))
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed, "the zero elements after the values are not zero.");
    }

    private static ReadOnlySpan<byte> Padding(int regionBytes) =>
        ZeroPadding.AsSpan(0, (int)(SessionSnapshotHeader.AlignUp(regionBytes) - regionBytes));

    // The synchronous inputs and outputs complete every step at once, so their ValueTask is already done here.
    private static T WaitCompleted<T>(ValueTask<T> task)
    {
        if (!task.IsCompleted) throw new InvalidOperationException("A synchronous snapshot input or output went asynchronous.");
        return task.GetAwaiter().GetResult();
    }

    private interface ISnapshotOutput
    {
        ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);
    }

    private sealed class BufferWriterOutput(IBufferWriter<byte> writer) : ISnapshotOutput
    {
        public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            writer.Write(bytes.Span);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class StreamOutput(Stream stream) : ISnapshotOutput
    {
        public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
            bytes.IsEmpty ? ValueTask.CompletedTask : stream.WriteAsync(bytes, cancellationToken);
    }

    private interface ISnapshotInput
    {
        /// <summary>Fills <paramref name="destination"/> with the next bytes, or throws a truncated-snapshot refusal.</summary>
        ValueTask ReadAsync(Memory<byte> destination, CancellationToken cancellationToken);
    }

    private sealed class SequenceInput(ReadOnlySequence<byte> remaining, long position) : ISnapshotInput
    {
        private ReadOnlySequence<byte> _remaining = remaining;
        private long _position = position;

        public ValueTask ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (_remaining.Length < destination.Length)
                throw SessionSnapshotHeader.Truncated(_position + _remaining.Length, _position + destination.Length);
            _remaining.Slice(0, destination.Length).CopyTo(destination.Span);
            _remaining = _remaining.Slice(destination.Length);
            _position += destination.Length;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class StreamInput(Stream stream, long position) : ISnapshotInput
    {
        private long _position = position;

        public async ValueTask ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            await SessionSnapshotHeader.ReadExactlyAsync(stream, destination, _position, cancellationToken);
            _position += destination.Length;
        }
    }
}
