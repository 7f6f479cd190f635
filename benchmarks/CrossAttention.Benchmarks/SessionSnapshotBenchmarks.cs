using System.Buffers;
using BenchmarkDotNet.Attributes;
using CrossAttention.Core.Caching;
using CrossAttention.Core.Kernels;
using CrossAttention.Core.Models;
using CrossAttention.Core.Sessions;

namespace CrossAttention.Benchmarks;

/// <summary>
/// A whole session written to and loaded from its binary form, against a plain copy of the same bytes (the floor any
/// load pays). Buffers are reused on every side (the output buffer, the ledger's pool), as the service reuses them:
/// fresh pages would measure page faults.
/// </summary>
[MemoryDiagnoser]
public class SessionSnapshotBenchmarks
{
    public sealed record Workload(string Name, int Layers, int SourceLength, int DModel, int Heads, KeyValueElementType ElementType)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Workload> Workloads() =>
    [
        new("whisper-base-f32", 6, 1500, 512, 8, KeyValueElementType.Float32),
        new("bart-large-f16", 12, 1024, 1024, 16, KeyValueElementType.Float16),
    ];

    [ParamsSource(nameof(Workloads))]
    public Workload Shape { get; set; } = null!;

    private static readonly SessionSnapshotInfo Info = new("bench", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddHours(1), TimeSpan.FromMinutes(5));
    private CrossAttentionModel _model = null!;
    private KeyValueLedger _ledger = null!;
    private EncodedSource _source = null!;
    private ArrayBufferWriter<byte> _output = null!;
    private byte[] _blob = [];
    private byte[] _copy = [];

    [GlobalSetup]
    public void Setup()
    {
        _model = DemoModel.Create(Shape.Layers, Shape.DModel, Shape.Heads, "bench");
        long bytes = _model.EncodedBytes(Shape.SourceLength, Shape.ElementType);
        _ledger = new KeyValueLedger(4 * bytes, 2 * bytes);
        var random = new Random(7);
        var source = Enumerable.Range(0, Shape.SourceLength * Shape.DModel).Select(_ => (float)random.NextDouble()).ToArray();
        _source = _model.Encode(source, Shape.SourceLength, [], ComputeOptions.Default, elementType: Shape.ElementType);
        _output = new ArrayBufferWriter<byte>((int)SessionSnapshot.Describe(_source, Info).TotalBytes);
        SessionSnapshot.Write(_source, Info, _output);
        _blob = _output.WrittenSpan.ToArray();
        _copy = new byte[_blob.Length];
        Load().Dispose(); // the pool now holds one session's buffers
    }

    [Benchmark(Baseline = true)]
    public void CopyBytes() => _blob.AsSpan().CopyTo(_copy);

    [Benchmark]
    public long Write()
    {
        _output.ResetWrittenCount();
        return SessionSnapshot.Write(_source, Info, _output);
    }

    /// <summary>Header, reservation, load into pooled buffers; then the session ends and its buffers go back.</summary>
    [Benchmark]
    public void LoadAndEnd() => Load().Dispose();

    private EncodedSource Load()
    {
        var snapshot = new ReadOnlySequence<byte>(_blob);
        var header = SessionSnapshotHeader.Read(snapshot, _ledger.BudgetBytes);
        if (_ledger.TryReserve(header.EncodedBytes, false, out var reservation) != KeyValueReservationResult.Reserved)
            throw new InvalidOperationException("The benchmark's ledger is full.");
        using (reservation)
        {
            var loaded = SessionSnapshot.Load(header, snapshot, _model, reservation!, _ledger.Pool);
            var holding = _ledger.Hold(reservation!, loaded.Bytes, new Holder());
            loaded.OnReleased(holding.Release);
            return loaded;
        }
    }

    private sealed class Holder : IKeyValueHolder
    {
        public long LastUsedTicks => 0;
        public bool InUse => false;
        public void Evict() { }
    }
}
