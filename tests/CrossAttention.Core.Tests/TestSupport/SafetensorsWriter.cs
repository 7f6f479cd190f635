using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace CrossAttention.Core.Tests.TestSupport;

/// <summary>
/// Writes .safetensors files for tests, laid out as the reference writer lays them out (header padded with spaces
/// to 8 bytes, tensors packed in the order added). Bad files are made by editing the header or the bytes afterwards.
/// </summary>
internal sealed class SafetensorsWriter
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _tensors = [];

    public Dictionary<string, string> Metadata { get; } = new() { ["format"] = "pt" };

    public IEnumerable<string> Names => _tensors.Select(t => t.Name);

    public SafetensorsWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    /// <param name="dtype">F32, F16 or BF16: the values are stored at that precision (round to nearest even)</param>
    public SafetensorsWriter AddFloats(string name, float[] values, long[] shape, string dtype = "F32") =>
        Add(name, dtype, shape, dtype switch
        {
            "F32" => MemoryMarshal.AsBytes(values.AsSpan()).ToArray(),
            "F16" => MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray(),
            "BF16" => MemoryMarshal.AsBytes(values.Select(Precision.ToBFloat16Bits).ToArray().AsSpan()).ToArray(),
            _ => throw new ArgumentException($"not a float dtype: {dtype}", nameof(dtype)),
        });

    public SafetensorsWriter AddDoubles(string name, double[] values, long[] shape) =>
        Add(name, "F64", shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public SafetensorsWriter AddInt64(string name, long[] values, long[] shape) =>
        Add(name, "I64", shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>A writer holding just the tensors <paramref name="keep"/> selects: one shard of a sharded checkpoint.</summary>
    public SafetensorsWriter Subset(Func<string, bool> keep)
    {
        var subset = new SafetensorsWriter();
        subset._tensors.AddRange(_tensors.Where(t => keep(t.Name)));
        return subset;
    }

    public bool Remove(string name) => _tensors.RemoveAll(t => t.Name == name) > 0;

    /// <summary>The header JSON this writer would write (before padding).</summary>
    public string HeaderJson()
    {
        var header = new Dictionary<string, object> { ["__metadata__"] = Metadata };
        long offset = 0;
        foreach (var (name, dtype, shape, data) in _tensors)
        {
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = dtype,
                ["shape"] = shape,
                ["data_offsets"] = new[] { offset, offset + data.Length },
            };
            offset += data.Length;
        }
        return JsonSerializer.Serialize(header);
    }

    public byte[] DataBytes() => _tensors.SelectMany(t => t.Data).ToArray();

    public byte[] ToBytes(Func<string, string>? editHeader = null)
    {
        string header = HeaderJson();
        if (editHeader is not null) header = editHeader(header);
        return Compose(header, DataBytes());
    }

    public void Write(string path, Func<string, string>? editHeader = null) => File.WriteAllBytes(path, ToBytes(editHeader));

    /// <summary>8-byte length, header padded with spaces to a multiple of 8, then the data.</summary>
    public static byte[] Compose(string header, byte[] data)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        int padded = (headerBytes.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        headerBytes.CopyTo(file, 8);
        file.AsSpan(8 + headerBytes.Length, padded - headerBytes.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }
}
