using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// How a K/V element is stored (float32, bfloat16 or float16) and read back as float32 lanes, so a decode kernel
/// generic over it streams the narrow cache and widens in registers: no float32 copy per step.
/// </summary>
/// <typeparam name="TStorage">the stored element: <see cref="float"/>, or <see cref="ushort"/> bit patterns for the 16-bit formats</typeparam>
/// <remarks>
/// A widened load reads exactly <c>Count</c> elements (16, 8 or 4) from <c>source</c>, never past them, so it is safe at
/// the very end of a buffer.
/// </remarks>
internal unsafe interface IKeyValueElement<TStorage> where TStorage : unmanaged
{
    /// <summary>Bytes per stored element.</summary>
    static virtual int Size => sizeof(TStorage);

    static abstract Vector512<float> LoadWidened512(TStorage* source);
    static abstract Vector256<float> LoadWidened256(TStorage* source);
    static abstract Vector128<float> LoadWidened128(TStorage* source);
    static abstract float ToSingle(TStorage value);

    /// <summary>float32 → storage, one value (the scalar path of <see cref="Narrow"/>).</summary>
    static abstract TStorage FromSingle(float value);

    /// <summary>float32 → storage in bulk, e.g. when an encode fills the cache.</summary>
    static abstract void Narrow(ReadOnlySpan<float> source, Span<TStorage> destination, KernelVariant variant);

    /// <summary>storage → float32 in bulk, e.g. one block of narrow weights that many rows will read.</summary>
    static abstract void Widen(ReadOnlySpan<TStorage> source, Span<float> destination, KernelVariant variant);
}

internal readonly unsafe struct Float32Element : IKeyValueElement<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadWidened512(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadWidened256(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LoadWidened128(float* source) => Vector128.Load(source);
    public static float ToSingle(float value) => value;
    public static float FromSingle(float value) => value;

    public static void Narrow(ReadOnlySpan<float> source, Span<float> destination, KernelVariant variant) =>
        source.CopyTo(destination);

    public static void Widen(ReadOnlySpan<float> source, Span<float> destination, KernelVariant variant) =>
        source.CopyTo(destination);
}

internal readonly unsafe struct BFloat16Element : IKeyValueElement<ushort>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadWidened512(ushort* source) => BFloat16WideningRule.Widen(ZeroExtendingLoad.Load512(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadWidened256(ushort* source) => BFloat16WideningRule.Widen(ZeroExtendingLoad.Load256(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LoadWidened128(ushort* source) => BFloat16WideningRule.Widen(ZeroExtendingLoad.Load128(source));
    public static float ToSingle(ushort value) => BFloat16WideningRule.Widen(value);
    public static ushort FromSingle(float value) => BFloat16NarrowingRule.Narrow(value);

    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant) =>
        BFloat16Narrowing.Narrow(source, destination, variant);

    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant) =>
        BFloat16Widening.Widen(source, destination, variant);
}

internal readonly unsafe struct Float16Element : IKeyValueElement<ushort>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadWidened512(ushort* source) => Float16WideningRule.Widen(ZeroExtendingLoad.Load512(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadWidened256(ushort* source) => Float16WideningRule.Widen(ZeroExtendingLoad.Load256(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LoadWidened128(ushort* source) => Float16WideningRule.Widen(ZeroExtendingLoad.Load128(source));
    public static float ToSingle(ushort value) => Float16WideningRule.Widen(value);
    public static ushort FromSingle(float value) => Float16NarrowingRule.Narrow(value);

    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant) =>
        Float16Narrowing.Narrow(source, destination, variant);

    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant) =>
        Float16Widening.Widen(source, destination, variant);
}

/// <summary>
/// The widened load as the vector type a kernel body is specialised for (Vector512/256/128 of float, or one float for
/// the scalar lanes): the type tests
/// are constants per instantiation, so the JIT keeps only the matching branch.
/// </summary>
internal static unsafe class KeyValueLoad
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Widened<TElement, TStorage, TVector>(TStorage* source)
        where TElement : struct, IKeyValueElement<TStorage>
        where TStorage : unmanaged
        where TVector : struct
    {
        if (typeof(TVector) == typeof(Vector512<float>))
        {
            var lanes = TElement.LoadWidened512(source);
            return Unsafe.As<Vector512<float>, TVector>(ref lanes);
        }
        if (typeof(TVector) == typeof(Vector256<float>))
        {
            var lanes = TElement.LoadWidened256(source);
            return Unsafe.As<Vector256<float>, TVector>(ref lanes);
        }
        if (typeof(TVector) == typeof(Vector128<float>))
        {
            var lanes = TElement.LoadWidened128(source);
            return Unsafe.As<Vector128<float>, TVector>(ref lanes);
        }
        if (typeof(TVector) == typeof(float))
        {
            float lane = TElement.ToSingle(*source);
            return Unsafe.As<float, TVector>(ref lane);
        }
        return ThrowUnsupportedVector<TVector>();
    }

    [DoesNotReturn]
    private static TVector ThrowUnsupportedVector<TVector>() =>
        throw new NotSupportedException($"{typeof(TVector)} is not a float vector the kernels use.");
}

/// <summary>16-bit patterns zero-extended into 32-bit lanes, reading exactly the lanes' worth of memory.</summary>
internal static unsafe class ZeroExtendingLoad
{
    // vpmovzxwd straight from memory where the instruction set has it; the portable forms are what other CPUs run.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Load512(ushort* source) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector512UInt32(Vector256.Load(source)) : Load512Portable(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Load256(ushort* source) =>
        Avx2.IsSupported ? Avx2.ConvertToVector256Int32(source).AsUInt32() : Load256Portable(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Load128(ushort* source) =>
        Sse41.IsSupported ? Sse41.ConvertToVector128Int32(source).AsUInt32() : Load128Portable(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Load512Portable(ushort* source) => Vector512.WidenLower(Vector256.Load(source).ToVector512Unsafe());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Load256Portable(ushort* source) => Vector256.WidenLower(Vector128.Load(source).ToVector256Unsafe());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<uint> Load128Portable(ushort* source) =>
        Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)source).AsUInt16());
}
