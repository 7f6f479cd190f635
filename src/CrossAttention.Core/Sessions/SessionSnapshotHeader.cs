using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;

namespace CrossAttention.Core.Sessions;

/// <summary>
/// The header of a session snapshot (docs/session-format.md): what the session is (model, shape, K/V element type,
/// whether a mask is stored), whose it is and when it ends, and where its regions lie. Read first, so a loader can
/// check the model and reserve <see cref="EncodedBytes"/> against its ledger before it allocates anything.
/// </summary>
/// <remarks>
/// Fixed layout, little-endian; the regions that follow start at 64-byte offsets from the start of the snapshot:
/// <code>
///  0  8  magic "CAKVSNAP"
///  8  2  format version (1)
/// 10  2  header bytes H: 80 + model name + owner, rounded up to 64 (the payload starts at H)
/// 12  1  K/V element type: 0 float32, 1 float16, 2 bfloat16
/// 13  1  flags: bit 0 = a mask (keep region) is stored; other bits 0
/// 14  2  0
/// 16  4  layers L          20  4  m (source positions)
/// 24  4  heads             28  4  headDim
/// 32  8  created, UTC ticks
/// 40  8  absolute expiry (the maximum lifetime's end), UTC ticks
/// 48  8  sliding TTL, ticks
/// 56  8  total bytes (header + payload)
/// 64  8  checksum: XxHash3 (64-bit, seed 0) of every byte of the snapshot, with these 8 bytes read as zero
/// 72  2  model name bytes (UTF-8, 1–256)
/// 74  2  owner bytes (UTF-8, 0–256; empty without API keys)
/// 76  4  0
/// 80     model name, owner, zeros up to H
/// </code>
/// </remarks>
public sealed record SessionSnapshotHeader
{
    public const ushort FormatVersion = 1;

    /// <summary>Longest model name and owner, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 256;

    internal const int FixedBytes = 80;
    internal const int MaxHeaderBytes = (FixedBytes + 2 * MaxNameBytes + KeyValueLayout.Alignment - 1) / KeyValueLayout.Alignment * KeyValueLayout.Alignment;
    internal const int ChecksumOffset = 64;
    private const byte MaskFlag = 1;

    private static ReadOnlySpan<byte> Magic => "CAKVSNAP"u8;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public required string ModelName { get; init; }

    /// <summary>The API key name that owns the session (empty without keys).</summary>
    public required string Owner { get; init; }

    public required int Layers { get; init; }
    public required int SourceLength { get; init; }
    public required int Heads { get; init; }
    public required int HeadDim { get; init; }
    public required KeyValueElementType ElementType { get; init; }

    /// <summary>Whether some source position is padding; then the keep region (shared by every layer) is stored.</summary>
    public required bool HasMask { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the session ends however often it is used (creation + maximum lifetime).</summary>
    public required DateTimeOffset AbsoluteExpiry { get; init; }

    public required TimeSpan SlidingTtl { get; init; }

    /// <summary>One layer's layout (every layer has the same).</summary>
    public KeyValueLayout Layout => new(Heads, SourceLength, HeadDim, ElementType);

    /// <summary>Bytes of the header, where the payload starts.</summary>
    public int HeaderBytes => AlignUp(FixedBytes + Encoding.UTF8.GetByteCount(ModelName) + Encoding.UTF8.GetByteCount(Owner));

    /// <summary>Bytes of the whole snapshot.</summary>
    public long TotalBytes => HeaderBytes + PayloadBytes(Layout, Layers, HasMask);

    /// <summary>
    /// The bytes the loaded session holds in the K/V pool (<see cref="EncodedSource.Bytes"/>, rounding included): what a
    /// loader reserves against its ledger before loading.
    /// </summary>
    public long EncodedBytes => Layers * KeyValueCache.BytesFor(Layout);

    /// <summary>Refuses a snapshot that <paramref name="model"/> cannot decode: another name, layer count or head shape.</summary>
    /// <exception cref="SessionSnapshotException">with <see cref="SessionSnapshotProblem.WrongModel"/></exception>
    public void EnsureMatches(CrossAttentionModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (ModelName != model.Name || Layers != model.Layers.Count || Heads != model.Heads || HeadDim != model.HeadDim)
            throw new SessionSnapshotException(SessionSnapshotProblem.WrongModel,
                $"it holds model '{ModelName}' ({Layers} layers, {Heads} heads of {HeadDim}); asked for '{model.Name}' " +
                $"({model.Layers.Count} layers, {model.Heads} heads of {model.HeadDim}).");
    }

    /// <summary>
    /// Refuses a snapshot of a session that has ended by <paramref name="now"/>, or that would live longer than the
    /// loading store lets any session live. Only the lifetime's end is known here: the snapshot holds no last use, so
    /// the sliding expiry is the shared tier's to keep (a key TTL refreshed on use).
    /// </summary>
    /// <param name="maxSlidingTtl">the longest sliding TTL the loading store grants</param>
    /// <param name="maxLifetime">the longest a session of the loading store lives after its creation</param>
    /// <exception cref="SessionSnapshotException">with <see cref="SessionSnapshotProblem.Expired"/> or
    /// <see cref="SessionSnapshotProblem.TtlAboveLimit"/></exception>
    public void EnsureLive(DateTimeOffset now, TimeSpan maxSlidingTtl, TimeSpan maxLifetime)
    {
        // At the expiry itself the session has ended, as a store ends it (now >= ExpiresAt).
        if (now >= AbsoluteExpiry)
            throw new SessionSnapshotException(SessionSnapshotProblem.Expired,
                $"the session's lifetime ended at {AbsoluteExpiry:O}; it is {now.ToUniversalTime():O}.");
        if (SlidingTtl > maxSlidingTtl)
            throw new SessionSnapshotException(SessionSnapshotProblem.TtlAboveLimit,
                $"its sliding TTL of {Seconds(SlidingTtl)} s is above the {Seconds(maxSlidingTtl)} s this store grants.");
        // The lifetime as written, not the time left: a creation time slightly ahead of this replica's clock (skew
        // between replicas) must not refuse a session created with exactly the maximum lifetime.
        if (AbsoluteExpiry - CreatedAt > maxLifetime)
            throw new SessionSnapshotException(SessionSnapshotProblem.TtlAboveLimit,
                $"its lifetime of {Seconds(AbsoluteExpiry - CreatedAt)} s (created {CreatedAt:O}) is above the " +
                $"{Seconds(maxLifetime)} s this store grants.");
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads and checks the header at the start of <paramref name="snapshot"/>, which must be the whole snapshot.</summary>
    /// <param name="maxBytes">largest snapshot the caller accepts (e.g. its K/V budget)</param>
    /// <exception cref="SessionSnapshotException">the header is damaged, from another format or version, or promises more
    /// or fewer bytes than <paramref name="snapshot"/> holds or <paramref name="maxBytes"/> allows</exception>
    public static SessionSnapshotHeader Read(ReadOnlySequence<byte> snapshot, long maxBytes)
    {
        Span<byte> header = stackalloc byte[MaxHeaderBytes];
        if (snapshot.Length < FixedBytes) throw Truncated(snapshot.Length, FixedBytes);
        snapshot.Slice(0, FixedBytes).CopyTo(header);
        int headerBytes = CheckFixedPart(header[..FixedBytes]);
        if (snapshot.Length < headerBytes) throw Truncated(snapshot.Length, headerBytes);
        snapshot.Slice(FixedBytes, headerBytes - FixedBytes).CopyTo(header[FixedBytes..]);
        var parsed = Parse(header[..headerBytes], maxBytes);
        if (snapshot.Length < parsed.TotalBytes) throw Truncated(snapshot.Length, parsed.TotalBytes);
        if (snapshot.Length > parsed.TotalBytes)
            throw new SessionSnapshotException(SessionSnapshotProblem.Malformed,
                $"{snapshot.Length - parsed.TotalBytes} bytes follow the {parsed.TotalBytes} the header declares.");
        return parsed;
    }

    /// <summary>Reads and checks the header from <paramref name="stream"/>, leaving it at the start of the payload.</summary>
    /// <inheritdoc cref="Read(ReadOnlySequence{byte}, long)"/>
    public static async ValueTask<SessionSnapshotHeader> ReadAsync(Stream stream, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = new byte[MaxHeaderBytes];
        await ReadExactlyAsync(stream, header.AsMemory(0, FixedBytes), 0, cancellationToken);
        int headerBytes = CheckFixedPart(header.AsSpan(0, FixedBytes));
        await ReadExactlyAsync(stream, header.AsMemory(FixedBytes, headerBytes - FixedBytes), FixedBytes, cancellationToken);
        return Parse(header.AsSpan(0, headerBytes), maxBytes);
    }

    /// <summary>Fills <paramref name="destination"/> from the stream; the end of the stream first is a truncated snapshot.</summary>
    internal static async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> destination, long position, CancellationToken cancellationToken)
    {
        int read = await stream.ReadAtLeastAsync(destination, destination.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < destination.Length) throw Truncated(position + read, position + destination.Length);
    }

    /// <summary>The header's bytes as written, checksum included (<see cref="Checksum"/>; zero while it is computed).</summary>
    internal int Write(Span<byte> destination)
    {
        int nameBytes = Encoding.UTF8.GetByteCount(ModelName), ownerBytes = Encoding.UTF8.GetByteCount(Owner);
        int headerBytes = HeaderBytes;
        var header = destination[..headerBytes];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], (ushort)headerBytes);
        header[12] = (byte)ElementType;
        header[13] = HasMask ? MaskFlag : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Layers);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], SourceLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], Heads);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], HeadDim);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], CreatedAt.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(header[40..], AbsoluteExpiry.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(header[48..], SlidingTtl.Ticks);
        BinaryPrimitives.WriteInt64LittleEndian(header[56..], TotalBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(header[ChecksumOffset..], Checksum);
        BinaryPrimitives.WriteUInt16LittleEndian(header[72..], (ushort)nameBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header[74..], (ushort)ownerBytes);
        Encoding.UTF8.GetBytes(ModelName, header[FixedBytes..]);
        Encoding.UTF8.GetBytes(Owner, header[(FixedBytes + nameBytes)..]);
        return headerBytes;
    }

    /// <summary>The checksum the header carries (XxHash3 of the snapshot with this field zero).</summary>
    internal ulong Checksum { get; init; }

    /// <summary>
    /// The payload's regions in order: the keep region when a mask is stored, then each layer's keys and values, each
    /// padded with zeros to the next 64-byte boundary.
    /// </summary>
    internal static long PayloadBytes(KeyValueLayout layout, int layers, bool hasMask) =>
        (hasMask ? AlignUp(layout.KeepBytes) : 0) + layers * (AlignUp(layout.KeyBytes) + AlignUp(layout.ValueBytes));

    internal static long AlignUp(long bytes) => (bytes + KeyValueLayout.Alignment - 1) / KeyValueLayout.Alignment * KeyValueLayout.Alignment;

    private static int AlignUp(int bytes) => (int)AlignUp((long)bytes);

    // Magic, version and the header's length: enough to know how many more header bytes to read.
    private static int CheckFixedPart(ReadOnlySpan<byte> header)
    {
        if (!header[..Magic.Length].SequenceEqual(Magic))
            throw new SessionSnapshotException(SessionSnapshotProblem.NotASnapshot, "the input does not start with a session snapshot's magic.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
            throw new SessionSnapshotException(SessionSnapshotProblem.UnsupportedVersion,
                $"format version {version}; this build reads version {FormatVersion}.");
        int nameBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[72..]);
        int ownerBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[74..]);
        if (nameBytes is < 1 or > MaxNameBytes || ownerBytes > MaxNameBytes)
            throw Malformed($"a model name of {nameBytes} bytes and an owner of {ownerBytes} (1–{MaxNameBytes} and 0–{MaxNameBytes} allowed).");
        int headerBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (headerBytes != AlignUp(FixedBytes + nameBytes + ownerBytes))
            throw Malformed($"a header length of {headerBytes} bytes does not fit names of {nameBytes} and {ownerBytes} bytes.");
        return headerBytes;
    }

    private static SessionSnapshotHeader Parse(ReadOnlySpan<byte> header, long maxBytes)
    {
        byte elementType = header[12], flags = header[13];
        if (elementType > (byte)KeyValueElementType.BFloat16) throw Malformed($"unknown K/V element type {elementType}.");
        if ((flags & ~MaskFlag) != 0) throw Malformed($"unknown flags 0x{flags:x2}.");
        if (BinaryPrimitives.ReadUInt16LittleEndian(header[14..]) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(header[76..]) != 0)
            throw Malformed("reserved header bytes are not zero.");
        int layers = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int sourceLength = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        int heads = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        int headDim = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        if (layers < 1 || sourceLength < 1 || heads < 1 || headDim < 1)
            throw Malformed($"{layers} layers, m {sourceLength}, {heads} heads of {headDim}: each must be at least 1.");
        var type = (KeyValueElementType)elementType;
        CheckRegionSizes(sourceLength, heads, headDim, type);
        var layout = new KeyValueLayout(heads, sourceLength, headDim, type);

        long created = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        long expiry = BinaryPrimitives.ReadInt64LittleEndian(header[40..]);
        long slidingTtl = BinaryPrimitives.ReadInt64LittleEndian(header[48..]);
        if (created < 0 || expiry < created || expiry > DateTime.MaxValue.Ticks || slidingTtl <= 0)
            throw Malformed("the creation, expiry and sliding TTL ticks are out of order or range.");

        int nameBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[72..]);
        int ownerBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[74..]);
        string modelName = Utf8(header.Slice(FixedBytes, nameBytes), "model name");
        string owner = Utf8(header.Slice(FixedBytes + nameBytes, ownerBytes), "owner");
        if (string.IsNullOrWhiteSpace(modelName)) throw Malformed("the model name is blank.");
        if (header[(FixedBytes + nameBytes + ownerBytes)..].ContainsAnyExcept((byte)0)) throw Malformed("the header's padding is not zero.");

        bool hasMask = (flags & MaskFlag) != 0;
        // In 128 bits: a damaged layer count times a region of up to 2 GiB would overflow a long.
        long declared = BinaryPrimitives.ReadInt64LittleEndian(header[56..]);
        Int128 total = header.Length + (Int128)PayloadBytes(layout, 1, hasMask) +
                       (Int128)(layers - 1) * (AlignUp(layout.KeyBytes) + AlignUp(layout.ValueBytes));
        if (total > maxBytes)
            throw new SessionSnapshotException(SessionSnapshotProblem.Oversized, $"{total} bytes; at most {maxBytes} are accepted.");
        if (declared != (long)total)
            throw Malformed($"the header declares {declared} bytes; its shape makes {total}.");

        return new SessionSnapshotHeader
        {
            ModelName = modelName,
            Owner = owner,
            Layers = layers,
            SourceLength = sourceLength,
            Heads = heads,
            HeadDim = headDim,
            ElementType = type,
            HasMask = hasMask,
            CreatedAt = new DateTimeOffset(created, TimeSpan.Zero),
            AbsoluteExpiry = new DateTimeOffset(expiry, TimeSpan.Zero),
            SlidingTtl = TimeSpan.FromTicks(slidingTtl),
            Checksum = BinaryPrimitives.ReadUInt64LittleEndian(header[ChecksumOffset..]),
        };
    }

    // Every region must fit one pinned array once aligned and rounded to its size class, as the cache allocates it.
    private static void CheckRegionSizes(int sourceLength, int heads, int headDim, KeyValueElementType type)
    {
        Int128 tiles = ((Int128)sourceLength + KeyValueLayout.TileWidth - 1) / KeyValueLayout.TileWidth;
        Int128 keys = (Int128)heads * tiles * headDim * KeyValueLayout.TileWidth * type.Size();
        Int128 values = ((Int128)heads * sourceLength * headDim + KeyValueLayout.ValuePadding) * type.Size();
        Int128 keep = tiles * KeyValueLayout.TileWidth * sizeof(uint);
        Int128 largest = Int128.Max(keys, Int128.Max(values, keep));
        // Size classes add at most an eighth.
        if (largest + KeyValueLayout.Alignment + (largest + KeyValueLayout.Alignment) / 8 + 1 > Array.MaxLength)
            throw new SessionSnapshotException(SessionSnapshotProblem.Oversized,
                $"m {sourceLength}, {heads} heads of {headDim} make a region of {largest} bytes, more than one buffer holds.");
    }

    private static string Utf8(ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed($"the {what} is not valid UTF-8.");
        }
    }

    private static SessionSnapshotException Malformed(string reason) => new(SessionSnapshotProblem.Malformed, reason);

    internal static SessionSnapshotException Truncated(long have, long need) =>
        new(SessionSnapshotProblem.Truncated, $"the input ends after {have} bytes; the snapshot needs {need}.");
}
