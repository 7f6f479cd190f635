using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace CrossAttention.Core.Safetensors;

/// <summary>
/// One .safetensors file: an 8-byte little-endian header length N, N bytes of JSON header, then the data region.
/// The header is checked in full when the file is opened; tensor bytes stay in a read-only memory map and are
/// converted one tensor at a time, so a multi-GB checkpoint never sits in one managed array.
/// Every failure is a <see cref="SafetensorsException"/> naming the file (and the tensor, where one is to blame).
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The format's own limit on the header; anything larger is a corrupt length, not a real header.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    // Tensors are converted in slices of this many elements, so no span over mapped memory exceeds int range.
    private const int ChunkElements = 1 << 20;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private bool _disposed;

    private SafetensorsFile(string path, Dictionary<string, SafetensorsTensorInfo> tensors,
        Dictionary<string, string> metadata, MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart)
    {
        FilePath = path;
        FileName = System.IO.Path.GetFileName(path);
        _tensors = tensors;
        Metadata = metadata;
        _map = map;
        _view = view;
        if (view is not null)
        {
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            _data = start + view.PointerOffset + dataStart;
        }
    }

    public string FilePath { get; }

    /// <summary>The file's name without its folder: what error messages show.</summary>
    public string FileName { get; }

    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>The header's free-form <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsFile Open(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SafetensorsException(name, null, $"cannot open ({e.Message})", e);
        }

        MemoryMappedFile? map = null;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
                throw new SafetensorsException(name, null, $"file is truncated ({fileLength} bytes; the 8-byte header length alone needs 8)");
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > (ulong)(fileLength - 8))
                throw new SafetensorsException(name, null,
                    $"header length {headerLength} runs past the end of the file ({fileLength} bytes): truncated or not a safetensors file");
            if (headerLength > MaxHeaderBytes)
                throw new SafetensorsException(name, null, $"header length {headerLength} exceeds the format's limit of {MaxHeaderBytes} bytes");
            if (headerLength < 2)
                throw new SafetensorsException(name, null, $"header length {headerLength} is too short for a JSON object");

            var header = new byte[(int)headerLength];
            stream.ReadExactly(header);
            long dataStart = 8 + (long)headerLength;
            long dataLength = fileLength - dataStart;
            var (tensors, metadata) = ParseHeader(name, header, dataLength);

            if (dataLength == 0)
            {
                stream.Dispose();
                return new SafetensorsFile(path, tensors, metadata, null, null, 0);
            }
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, tensors, metadata, map, view, dataStart);
        }
        catch (Exception e)
        {
            map?.Dispose();
            stream.Dispose();
            if (e is SafetensorsException) throw;
            throw new SafetensorsException(name, null, $"cannot read ({e.Message})", e);
        }
    }

    public bool Contains(string tensor) => _tensors.ContainsKey(tensor);

    /// <summary>The header entry of one tensor; a missing tensor is an error naming the file and the tensor.</summary>
    public SafetensorsTensorInfo Info(string tensor) =>
        _tensors.TryGetValue(tensor, out var info) ? info : throw new SafetensorsException(FileName, tensor, "is missing");

    /// <summary>
    /// A F32, F16 or BF16 tensor as float32, row-major. Any other dtype is an error naming the tensor, as is any
    /// NaN or infinity when <paramref name="requireFinite"/> (weights must be finite).
    /// </summary>
    public float[] ReadSingles(string tensor, bool requireFinite = true)
    {
        var info = Info(tensor);
        if (!SafetensorsDType.IsWeightType(info.DType))
            throw Error(tensor, $"has unsupported dtype {info.DType} (supported: F32, F16, BF16)");
        var result = AllocateFor<float>(info);
        int elementSize = SafetensorsDType.ElementSize(info.DType);
        ForEachChunk(info, elementSize, (bytes, start, count) =>
            SafetensorsConvert.ToSingle(info.DType, bytes, result.AsSpan(start, count)));
        // IsFiniteAll answers false for an empty span; an empty tensor holds nothing non-finite.
        if (requireFinite && result.Length > 0 && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(result))
        {
            int index = Array.FindIndex(result, v => !float.IsFinite(v));
            throw Error(tensor, $"holds a non-finite value ({result[index]}) at flat index {index}");
        }
        return result;
    }

    /// <summary>
    /// A F16 or BF16 tensor's 16-bit patterns as stored, with no conversion: what weights kept in that same format are
    /// packed from. Non-finite values (exponent all ones) are refused as <see cref="ReadSingles"/> refuses them.
    /// </summary>
    public ushort[] ReadHalfBits(string tensor)
    {
        var info = Info(tensor);
        ushort exponentMask = info.DType switch
        {
            SafetensorsDType.F16 => 0x7C00,
            SafetensorsDType.BF16 => 0x7F80,
            _ => throw Error(tensor, $"has dtype {info.DType}, not F16 or BF16"),
        };
        var result = AllocateFor<ushort>(info);
        ForEachChunk(info, sizeof(ushort), (bytes, start, count) =>
        {
            for (int i = 0; i < count; i++)
                result[start + i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(i * sizeof(ushort)));
        });
        int index = Array.FindIndex(result, bits => (bits & exponentMask) == exponentMask);
        if (index >= 0)
            throw Error(tensor, $"holds a non-finite value (bits 0x{result[index]:X4}) at flat index {index}");
        return result;
    }

    /// <summary>A F64, F32, F16 or BF16 tensor as float64 (for reference data such as test cases).</summary>
    public double[] ReadDoubles(string tensor)
    {
        var info = Info(tensor);
        if (info.DType == SafetensorsDType.F64)
        {
            var result = AllocateFor<double>(info);
            ForEachChunk(info, sizeof(double), (bytes, start, count) =>
            {
                for (int i = 0; i < count; i++)
                    result[start + i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i * sizeof(double)));
            });
            return result;
        }
        if (!SafetensorsDType.IsWeightType(info.DType))
            throw Error(tensor, $"has unsupported dtype {info.DType} (supported: F64, F32, F16, BF16)");
        return Array.ConvertAll(ReadSingles(tensor, requireFinite: false), v => (double)v);
    }

    /// <summary>An integer or boolean tensor (I64, I32, U8, BOOL) widened to int64.</summary>
    public long[] ReadInt64(string tensor)
    {
        var info = Info(tensor);
        int elementSize = info.DType switch
        {
            SafetensorsDType.I64 => 8,
            SafetensorsDType.I32 => 4,
            SafetensorsDType.U8 or SafetensorsDType.Bool => 1,
            _ => throw Error(tensor, $"has unsupported dtype {info.DType} (supported: I64, I32, U8, BOOL)"),
        };
        var result = AllocateFor<long>(info);
        ForEachChunk(info, elementSize, (bytes, start, count) =>
        {
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> element = bytes.Slice(i * elementSize, elementSize);
                result[start + i] = elementSize switch
                {
                    8 => BinaryPrimitives.ReadInt64LittleEndian(element),
                    4 => BinaryPrimitives.ReadInt32LittleEndian(element),
                    _ => element[0],
                };
            }
        });
        return result;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    private SafetensorsException Error(string tensor, string text) => new(FileName, tensor, text);

    private T[] AllocateFor<T>(SafetensorsTensorInfo info)
    {
        long count = info.ElementCount;
        if (count > Array.MaxLength)
            throw Error(info.Name, $"has {count} elements, more than one array can hold");
        return new T[count];
    }

    private delegate void ChunkAction(ReadOnlySpan<byte> bytes, int start, int count);

    private void ForEachChunk(SafetensorsTensorInfo info, int elementSize, ChunkAction action)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long count = info.ElementCount;
        for (long start = 0; start < count; start += ChunkElements)
        {
            int n = (int)Math.Min(ChunkElements, count - start);
            var bytes = new ReadOnlySpan<byte>(_data + info.DataBegin + start * elementSize, n * elementSize);
            action(bytes, (int)start, n);
        }
    }

    private static (Dictionary<string, SafetensorsTensorInfo>, Dictionary<string, string>) ParseHeader(
        string fileName, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(fileName, null, $"header is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(fileName, null, "header is JSON but not an object");
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new SafetensorsException(fileName, null, $"header's {MetadataKey} is not an object");
                    foreach (var entry in property.Value.EnumerateObject())
                        metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
                    continue;
                }
                var info = ParseEntry(fileName, property, dataLength);
                if (!tensors.TryAdd(info.Name, info))
                    throw new SafetensorsException(fileName, info.Name, "appears twice in the header");
            }
            return (tensors, metadata);
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string fileName, JsonProperty property, long dataLength)
    {
        string name = property.Name;
        SafetensorsException Bad(string text) => new(fileName, name, text);
        var entry = property.Value;
        if (entry.ValueKind != JsonValueKind.Object) throw Bad("has a header entry that is not an object");

        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("has no dtype string in the header");
        string dtype = dtypeElement.GetString()!;

        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("has no shape array in the header");
        var shape = new long[shapeElement.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long value) || value < 0)
                throw Bad($"has a shape entry that is not a non-negative integer ({dim.GetRawText()})");
            shape[d++] = value;
        }

        if (!entry.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array ||
            offsetsElement.GetArrayLength() != 2)
            throw Bad("has no data_offsets [begin, end] in the header");
        var offsets = new long[2];
        int o = 0;
        foreach (var offset in offsetsElement.EnumerateArray())
        {
            if (offset.ValueKind != JsonValueKind.Number || !offset.TryGetInt64(out long value) || value < 0)
                throw Bad($"has a data offset that is not a non-negative integer ({offset.GetRawText()})");
            offsets[o++] = value;
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end) throw Bad($"has data_offsets [{begin}, {end}] that end before they begin");
        if (end > dataLength)
            throw Bad($"has data_offsets [{begin}, {end}] beyond the data region ({dataLength} bytes): the file is truncated or its header lies");

        var info = new SafetensorsTensorInfo(name, dtype, shape, begin, end);
        int elementSize = SafetensorsDType.ElementSize(dtype);
        if (elementSize > 0)
        {
            long expectedBytes;
            try
            {
                expectedBytes = checked(info.ElementCount * elementSize);
            }
            catch (OverflowException)
            {
                throw Bad($"has shape {info.ShapeText} too large to address");
            }
            if (expectedBytes != info.ByteLength)
                throw Bad($"has data_offsets [{begin}, {end}] ({info.ByteLength} bytes) but shape {info.ShapeText} of {dtype} needs {expectedBytes} bytes");
        }
        return info;
    }
}
