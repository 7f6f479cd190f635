using System.Text.Json;

namespace CrossAttention.Core.Safetensors;

/// <summary>
/// The weights of one checkpoint, in one .safetensors file or sharded over several by an index
/// (<c>{"weight_map": {"tensor": "model-00001-of-00002.safetensors"}}</c>). Shards are opened when first needed.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly SafetensorsFile? _single;
    private readonly string _folder;
    private readonly Dictionary<string, string>? _weightMap;
    private readonly Dictionary<string, SafetensorsFile> _shards = new(StringComparer.Ordinal);

    private SafetensorsCheckpoint(string source, SafetensorsFile? single, string folder, Dictionary<string, string>? weightMap)
    {
        SourceName = source;
        _single = single;
        _folder = folder;
        _weightMap = weightMap;
    }

    /// <summary>The file the checkpoint was opened from (the index for a sharded one), as messages show it.</summary>
    public string SourceName { get; }

    /// <summary>Opens a .safetensors file, or a sharded checkpoint when the path ends in .json (its index).</summary>
    public static SafetensorsCheckpoint Open(string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return new SafetensorsCheckpoint(Path.GetFileName(path), null, folder, ReadWeightMap(path));
        return new SafetensorsCheckpoint(Path.GetFileName(path), SafetensorsFile.Open(path), folder, null);
    }

    /// <summary>A Hugging Face folder's weights: model.safetensors, or else model.safetensors.index.json.</summary>
    public static SafetensorsCheckpoint OpenFolder(string folder)
    {
        string single = Path.Combine(folder, SingleFileName);
        if (File.Exists(single)) return Open(single);
        string index = Path.Combine(folder, IndexFileName);
        if (File.Exists(index)) return Open(index);
        // Pickled checkpoints can run code when read; they are not read here, only pointed out.
        string hint = Directory.EnumerateFiles(folder, "*.bin").Any() || Directory.EnumerateFiles(folder, "*.pt").Any()
            ? "; pickled PyTorch weights (.bin/.pt) are not read: save them as safetensors"
            : "";
        throw new SafetensorsException(SingleFileName, null, $"not found (nor {IndexFileName}) in '{folder}'{hint}");
    }

    public bool Contains(string tensor) => _single?.Contains(tensor) ?? _weightMap!.ContainsKey(tensor);

    /// <summary>The file that holds a tensor, as messages name it.</summary>
    public string FileOf(string tensor) =>
        _single?.FileName ?? (_weightMap!.TryGetValue(tensor, out var shard) ? shard : SourceName);

    public SafetensorsTensorInfo Info(string tensor) => FileHolding(tensor).Info(tensor);

    /// <inheritdoc cref="SafetensorsFile.ReadSingles"/>
    public float[] ReadSingles(string tensor, bool requireFinite = true) => FileHolding(tensor).ReadSingles(tensor, requireFinite);

    /// <inheritdoc cref="SafetensorsFile.ReadHalfBits"/>
    public ushort[] ReadHalfBits(string tensor) => FileHolding(tensor).ReadHalfBits(tensor);

    public void Dispose()
    {
        _single?.Dispose();
        foreach (var shard in _shards.Values) shard.Dispose();
        _shards.Clear();
    }

    private SafetensorsFile FileHolding(string tensor)
    {
        if (_single is not null) return _single;
        if (!_weightMap!.TryGetValue(tensor, out var shardName))
            throw new SafetensorsException(SourceName, tensor, "is missing from weight_map");
        if (!_shards.TryGetValue(shardName, out var shard))
        {
            string shardPath = Path.Combine(_folder, shardName);
            if (!File.Exists(shardPath))
                throw new SafetensorsException(shardName, tensor, $"is mapped to this file by {SourceName}, but the file is not found");
            shard = SafetensorsFile.Open(shardPath);
            _shards.Add(shardName, shard);
        }
        if (!shard.Contains(tensor))
            throw new SafetensorsException(shardName, tensor, $"is missing, though {SourceName} maps it there");
        return shard;
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        string name = Path.GetFileName(indexPath);
        using (var document = CheckpointJson.ReadObject(indexPath))
        {
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(name, null, "has no weight_map object");
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                // A shard must be a plain file beside the index: a path could read files outside the model folder.
                if (string.IsNullOrEmpty(shard) || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new SafetensorsException(name, null, $"weight_map entry for tensor '{entry.Name}' is not a file name beside the index ({entry.Value.GetRawText()})");
                weightMap[entry.Name] = shard;
            }
            return weightMap;
        }
    }
}
