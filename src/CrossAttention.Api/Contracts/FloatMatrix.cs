using CrossAttention.Api.Infrastructure;
using System.Runtime.InteropServices;

namespace CrossAttention.Api.Contracts;

/// <summary>
/// A row-major float32 matrix [rows, columns] read from a request (JSON array of arrays, or raw little-endian float32),
/// in a byte buffer rented from the shared pool (a raw body is used where it lies, without a copy). Dispose returns it.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(FloatMatrixJsonConverter))]
public sealed partial class FloatMatrix : IDisposable
{
    private byte[]? _buffer;
    private readonly int _count;

    internal FloatMatrix(byte[] buffer, int count, int rows, int columns, RowProblem? problem)
    {
        _buffer = buffer;
        _count = count;
        Rows = rows;
        Columns = columns;
        Problem = problem;
    }

    public int Rows { get; }

    /// <summary>Length of the first row; every row has it unless <see cref="Problem"/> says otherwise.</summary>
    public int Columns { get; }

    /// <summary>The first structural or value problem found while reading, if any (ragged row, non-finite value).</summary>
    public RowProblem? Problem { get; }

    /// <summary>[rows, columns] when <see cref="Problem"/> is null; otherwise every value read, in order.</summary>
    public ReadOnlySpan<float> Values =>
        MemoryMarshal.Cast<byte, float>((_buffer ?? throw new ObjectDisposedException(nameof(FloatMatrix))).AsSpan(0, _count * sizeof(float)));

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) RequestBuffers.Return(buffer, reservation: null);
    }

    /// <summary>Wraps raw little-endian float32 values already in a rented buffer; checks they are finite.</summary>
    internal static FloatMatrix FromRented(byte[] buffer, int rows, int columns)
    {
        RowProblem? problem = null;
        var values = MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, rows * columns * sizeof(float)));
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                problem = new RowProblem(i / columns, $"row {i / columns}, column {i % columns} is not a finite float32 ({values[i]}).");
                break;
            }
        }
        return new FloatMatrix(buffer, rows * columns, rows, columns, problem);
    }
}

/// <summary>What is wrong with a matrix read from a request, and at which row.</summary>
public sealed record RowProblem(int Row, string Message);
