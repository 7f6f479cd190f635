namespace CrossAttention.Core.Alignment;

/// <summary>
/// The attention rows of one session's decode steps, kept per layer for alignment. A step reserves its rows before it
/// computes (so a step past the cap is refused, never computed and then dropped) and appends them once it completes;
/// appends take a lock, so the rows of a layer are in the order the steps completed. The whole capacity
/// (<see cref="Bytes"/>) is what the session is charged from the start; memory is allocated in chunks as rows arrive.
/// </summary>
public sealed class AttentionRecorder
{
    /// <summary>Rows are allocated about this many floats at a time (whole rows, at least one).</summary>
    private const int ChunkFloats = 16 * 1024;

    private readonly Lock _lock = new();
    private readonly List<float[]>[] _chunks;   // per layer: chunks of [chunkRows, heads, m]
    private readonly int[] _recorded;           // per layer: rows appended
    private readonly int[] _reserved;           // per layer: rows appended or reserved by a step in flight
    private readonly int _rowFloats;
    private readonly int _chunkRows;
    private long _allocatedFloats;

    /// <param name="mask">[m], 1 keep / 0 padding; null when nothing is padding</param>
    public AttentionRecorder(int layers, int heads, int sourceLength, int maxSteps, byte[]? mask = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sourceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSteps, 1);
        if (mask is not null && mask.Length != sourceLength) throw new ArgumentException($"mask must have {sourceLength} entries.", nameof(mask));
        Layers = layers;
        Heads = heads;
        SourceLength = sourceLength;
        MaxSteps = maxSteps;
        Mask = mask;
        _rowFloats = checked(heads * sourceLength);
        _chunkRows = Math.Clamp(ChunkFloats / _rowFloats, 1, maxSteps);
        _chunks = new List<float[]>[layers];
        for (int i = 0; i < layers; i++) _chunks[i] = [];
        _recorded = new int[layers];
        _reserved = new int[layers];
        Bytes = BytesFor(layers, heads, sourceLength, maxSteps);
    }

    /// <summary>What recording costs a session at most (and is charged from the start): maxSteps rows of [heads, m] per layer.</summary>
    public static long BytesFor(int layers, int heads, int sourceLength, int maxSteps) =>
        sizeof(float) * (long)layers * maxSteps * heads * sourceLength;

    public int Layers { get; }
    public int Heads { get; }
    public int SourceLength { get; }

    /// <summary>Most rows (query rows of decode steps) one layer may record.</summary>
    public int MaxSteps { get; }

    /// <summary>[m], 1 keep / 0 padding; null when nothing is padding.</summary>
    public byte[]? Mask { get; }

    /// <summary>The bytes reserved for the record: its full capacity, whatever has been allocated yet.</summary>
    public long Bytes { get; }

    /// <summary>Bytes allocated so far (never more than <see cref="Bytes"/>).</summary>
    public long AllocatedBytes
    {
        get { lock (_lock) return _allocatedFloats * sizeof(float); }
    }

    /// <summary>Rows recorded on a layer so far.</summary>
    public int RecordedSteps(int layer)
    {
        CheckLayer(layer);
        lock (_lock) return _recorded[layer];
    }

    /// <summary>Reserves room for a step of <paramref name="rows"/> query rows; false when the layer's record is full.</summary>
    public bool TryReserve(int layer, int rows)
    {
        CheckLayer(layer);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        lock (_lock)
        {
            if (rows > MaxSteps - _reserved[layer]) return false;
            _reserved[layer] += rows;
            return true;
        }
    }

    /// <summary>Gives back a reservation whose step did not complete.</summary>
    public void CancelReservation(int layer, int rows)
    {
        CheckLayer(layer);
        lock (_lock)
        {
            if (rows < 1 || rows > _reserved[layer] - _recorded[layer])
                throw new InvalidOperationException($"Layer {layer} has no reservation of {rows} rows to cancel.");
            _reserved[layer] -= rows;
        }
    }

    /// <summary>Appends a completed step's weights, for which <see cref="TryReserve"/> was granted.</summary>
    /// <param name="attention">[heads, rows, m]</param>
    public void Append(int layer, ReadOnlySpan<float> attention, int rows)
    {
        CheckLayer(layer);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        int m = SourceLength;
        if (attention.Length != (long)Heads * rows * m)
            throw new ArgumentException($"attention must be [{Heads}, {rows}, {m}].", nameof(attention));
        lock (_lock)
        {
            if (rows > _reserved[layer] - _recorded[layer])
                throw new InvalidOperationException($"Layer {layer}: {rows} rows were appended without a reservation.");
            for (int i = 0; i < rows; i++)
            {
                var row = RowForWrite(layer, _recorded[layer]); // [heads, m]
                for (int h = 0; h < Heads; h++)
                    attention.Slice((h * rows + i) * m, m).CopyTo(row.Slice(h * m, m));
                _recorded[layer]++;
            }
        }
    }

    /// <summary>The recorded rows of a layer for each chosen head, read at one moment: [heads.Length][steps, m].</summary>
    public float[][] Read(int layer, ReadOnlySpan<int> heads, out int steps)
    {
        CheckLayer(layer);
        foreach (int h in heads) ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)h, (uint)Heads, nameof(heads));
        int m = SourceLength;
        lock (_lock)
        {
            steps = _recorded[layer];
            var result = new float[heads.Length][];
            for (int k = 0; k < heads.Length; k++)
            {
                var matrix = new float[steps * m]; // [steps, m]
                for (int i = 0; i < steps; i++) Row(layer, i).Slice(heads[k] * m, m).CopyTo(matrix.AsSpan(i * m, m));
                result[k] = matrix;
            }
            return result;
        }
    }

    private Span<float> RowForWrite(int layer, int index)
    {
        var chunks = _chunks[layer];
        int chunk = index / _chunkRows;
        if (chunk == chunks.Count)
        {
            // The last chunk holds only the rows left under the cap, so allocation never exceeds the reservation.
            int rows = Math.Min(_chunkRows, MaxSteps - chunk * _chunkRows);
            chunks.Add(new float[rows * _rowFloats]);
            _allocatedFloats += (long)rows * _rowFloats;
        }
        return Row(layer, index);
    }

    private Span<float> Row(int layer, int index) =>
        _chunks[layer][index / _chunkRows].AsSpan(index % _chunkRows * _rowFloats, _rowFloats);

    private void CheckLayer(int layer) => ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)layer, (uint)Layers, nameof(layer));
}
