using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using CrossAttention.Api.Contracts;

namespace CrossAttention.Benchmarks;

/// <summary>
/// What a JSON decode step spends on its numbers: writing a row of float32 (the BCL writer one number at a time,
/// against the service's row writer) and parsing the numbers of a Python-made body (17-digit doubles: the BCL's
/// Utf8Parser, which Utf8JsonReader.TryGetDouble uses, against the service's fast path).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class JsonFloatBenchmarks
{
    private float[] _values = [];
    private byte[][] _texts = [];
    private readonly MemoryStream _stream = new(1 << 20);
    private Utf8JsonWriter _writer = null!;

    /// <summary>512 = a whisper-base step's output row; 12,000 = its attention weights [8, 1, 1500].</summary>
    [Params(512, 12_000)]
    public int Count { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261128);
        _values = new float[Count];
        for (int i = 0; i < Count; i++) _values[i] = (float)(random.NextDouble() * 4 - 2);
        _texts = _values.Select(v => Encoding.ASCII.GetBytes(((double)v).ToString("R", CultureInfo.InvariantCulture))).ToArray();
        _writer = new Utf8JsonWriter(_stream);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("write")]
    public long WriteNumberByNumber()
    {
        _stream.Position = 0;
        _writer.Reset(_stream);
        _writer.WriteStartArray();
        foreach (float v in _values) _writer.WriteNumberValue(v);
        _writer.WriteEndArray();
        _writer.Flush();
        return _stream.Position;
    }

    [Benchmark, BenchmarkCategory("write")]
    public long WriteRows()
    {
        _stream.Position = 0;
        _writer.Reset(_stream);
        FloatArrayWriter.WriteMatrix(_writer, _values, 1, _values.Length);
        _writer.Flush();
        return _stream.Position;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("parse")]
    public double ParseWithUtf8Parser()
    {
        double sum = 0;
        foreach (var text in _texts)
        {
            Utf8Parser.TryParse(text, out double value, out _);
            sum += value;
        }
        return sum;
    }

    [Benchmark, BenchmarkCategory("parse")]
    public double ParseWithFastPath()
    {
        double sum = 0;
        foreach (var text in _texts)
        {
            JsonNumberParser.TryParse(text, out double value);
            sum += value;
        }
        return sum;
    }
}
