using System.Buffers;
using System.Runtime.InteropServices;

namespace CrossAttention.Api.Contracts;

public sealed partial class FloatMatrix
{
    /// <summary>
    /// <see cref="Values"/> as memory, for the engine calls that hold it across an await (the compute gate's queue);
    /// valid until the matrix is disposed.
    /// </summary>
    public ReadOnlyMemory<float> Memory =>
        new FloatsOverBytes(_buffer ?? throw new ObjectDisposedException(nameof(FloatMatrix)), _count).Memory;

    /// <summary>The first <c>count</c> floats of a byte buffer (rented buffers start aligned for float).</summary>
    private sealed unsafe class FloatsOverBytes(byte[] bytes, int count) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => MemoryMarshal.Cast<byte, float>(bytes.AsSpan(0, count * sizeof(float)));

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            return new MemoryHandle((float*)handle.AddrOfPinnedObject() + elementIndex, handle);
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }
}
