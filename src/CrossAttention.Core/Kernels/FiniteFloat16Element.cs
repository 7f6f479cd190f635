using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// float16 weights read as float32 lanes in three operations a vector (after a sign-extending load), for storage known
/// to hold finite values only: <see cref="PackedLinear"/> refuses float16 weights that are not finite, so its panels
/// qualify; a float16 K/V cache uses it once it has checked that it holds no ±Inf or NaN
/// (`KeyValueView.AllFinite`, set by its owner after one scan), and the full <see cref="Float16Element"/> otherwise.
/// </summary>
/// <remarks>
/// The sign-extended pattern shifted left by 13 puts the sign in bit 31 and exponent and mantissa in bits 27..13; masking
/// bits 30..28 leaves a float32 that is the float16 value × 2^-112 (a subnormal float16 lands in a subnormal float32 of
/// the same mantissa), so one exact multiplication by 2^112 restores it. For finite patterns this is bit for bit
/// <see cref="Float16Widening.WidenReference"/>; infinities and NaN would come out as finite values, hence the rule.
/// The generic decode bodies' few-row tiles spend about 11 operations a vector on the full conversion, which made
/// float16 weights compute-bound; this form keeps them memory-bound like bfloat16.
/// </remarks>
internal readonly unsafe struct FiniteFloat16Element : IKeyValueElement<ushort>
{
    private const uint SignExponentMantissa = 0x8FFFE000;
    private const float TwoToThe112 = 5.192296858534828e33f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadWidened512(ushort* source) =>
        ((SignExtendingLoad.Load512((short*)source) << 13) & Vector512.Create(SignExponentMantissa)).AsSingle() * Vector512.Create(TwoToThe112);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadWidened256(ushort* source) =>
        ((SignExtendingLoad.Load256((short*)source) << 13) & Vector256.Create(SignExponentMantissa)).AsSingle() * Vector256.Create(TwoToThe112);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadWidened128(ushort* source) =>
        ((SignExtendingLoad.Load128((short*)source) << 13) & Vector128.Create(SignExponentMantissa)).AsSingle() * Vector128.Create(TwoToThe112);

    public static float ToSingle(ushort value) =>
        BitConverter.UInt32BitsToSingle(((uint)(short)value << 13) & SignExponentMantissa) * TwoToThe112;

    public static ushort FromSingle(float value) => Float16NarrowingRule.Narrow(value);

    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination, KernelVariant variant) =>
        Float16Narrowing.Narrow(source, destination, variant);

    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, KernelVariant variant) =>
        Float16Widening.Widen(source, destination, variant);

    /// <summary>True for a float16 pattern that is neither infinite nor NaN (exponent not all ones).</summary>
    public static bool IsFinite(ushort bits) => (bits & 0x7C00) != 0x7C00;
}

/// <summary>16-bit integers sign-extended into 32-bit lanes, reading exactly the lanes' worth of memory.</summary>
internal static unsafe class SignExtendingLoad
{
    // vpmovsxwd straight from memory where the instruction set has it; the portable forms are what other CPUs run.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Load512(short* source) =>
        (Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32(Vector256.Load(source)) : Vector512.WidenLower(Vector256.Load(source).ToVector512Unsafe())).AsUInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Load256(short* source) =>
        (Avx2.IsSupported ? Avx2.ConvertToVector256Int32(source) : Vector256.WidenLower(Vector128.Load(source).ToVector256Unsafe())).AsUInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Load128(short* source) =>
        (Sse41.IsSupported ? Sse41.ConvertToVector128Int32(source) : Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(long*)source).AsInt16())).AsUInt32();
}
