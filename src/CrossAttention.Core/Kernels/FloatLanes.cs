using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossAttention.Core.Kernels;

/// <summary>
/// What the GEMM micro-kernel (<see cref="Gemm{TLanes, TVector}"/>) needs of a lane type, as static abstract members,
/// so its one body is specialised by the JIT per width (TLanes is always a struct).
/// </summary>
internal unsafe interface IMultiplyAddLanes<TVector> where TVector : struct
{
    static abstract int Count { get; }

    /// <summary>
    /// Rows of one GEMM tile (at most 12): two accumulators per row plus two weight vectors and a broadcast must fit
    /// the register file (32 registers with AVX-512, 16 below).
    /// </summary>
    static abstract int TileHeight { get; }

    static abstract TVector Zero { get; }
    static abstract TVector Load(float* source);
    static abstract void Store(TVector value, float* destination);
    static abstract TVector Broadcast(float value);

    /// <summary>a·b + c, fused on the vector lanes.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);
}

/// <summary>
/// The handful of float-vector operations the kernels need (decode attention, the GEMM micro-kernel, exp), as
/// static abstract members so one generic kernel body is specialised by the JIT for Vector512, Vector256 and
/// Vector128 (TLanes is always a struct).
/// </summary>
internal unsafe interface IFloatLanes<TVector> : IMultiplyAddLanes<TVector> where TVector : struct
{
    static abstract TVector Multiply(TVector a, TVector b);
    static abstract TVector Add(TVector a, TVector b);
    static abstract TVector Subtract(TVector a, TVector b);
    static abstract TVector Max(TVector a, TVector b);
    static abstract TVector Exp(TVector value);

    /// <summary>
    /// value clamped to [<see cref="DecodeExp.Lowest"/>, <see cref="DecodeExp.Highest"/>], NaN staying NaN. The bounds
    /// are written as constants in each lane type: the JIT emits a plain max and min only when it sees a constant
    /// operand, and bounds passed in as arguments cost a range-and-fixup sequence per bound instead.
    /// </summary>
    static abstract TVector ClampToExpRange(TVector value);

    /// <summary>Rounds to the nearest integer, ties to even.</summary>
    static abstract TVector Round(TVector value);

    /// <summary>2^k for lanes holding integers k in [−126, 127], built from the exponent bits.</summary>
    static abstract TVector PowerOfTwo(TVector integral);

    /// <summary>Lanes of <paramref name="whenSet"/> where <paramref name="mask"/> is all ones, else <paramref name="otherwise"/>.</summary>
    static abstract TVector Select(TVector mask, TVector whenSet, TVector otherwise);

    static abstract TVector And(TVector a, TVector b);
    static abstract float MaxAcross(TVector value);
    static abstract float SumAcross(TVector value);
}

internal readonly unsafe struct Lanes512 : IFloatLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static int TileHeight => 12;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> value) => DecodeExp.Evaluate<Lanes512, Vector512<float>>(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ClampToExpRange(Vector512<float> value) => Vector512.Min(Vector512.Max(value, Vector512.Create(DecodeExp.Lowest)), Vector512.Create(DecodeExp.Highest));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> value) => Vector512.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> PowerOfTwo(Vector512<float> integral) => Vector512.ShiftLeft(Vector512.ConvertToInt32Native(integral) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> whenSet, Vector512<float> otherwise) => Vector512.ConditionalSelect(mask, whenSet, otherwise);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> And(Vector512<float> a, Vector512<float> b) => a & b;
    public static float MaxAcross(Vector512<float> value) => Lanes256.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
    public static float SumAcross(Vector512<float> value) => Vector512.Sum(value);
}

internal readonly unsafe struct Lanes256 : IFloatLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static int TileHeight => 6;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> value) => DecodeExp.Evaluate<Lanes256, Vector256<float>>(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ClampToExpRange(Vector256<float> value) => Vector256.Min(Vector256.Max(value, Vector256.Create(DecodeExp.Lowest)), Vector256.Create(DecodeExp.Highest));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> value) => Vector256.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> PowerOfTwo(Vector256<float> integral) => Vector256.ShiftLeft(Vector256.ConvertToInt32Native(integral) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> whenSet, Vector256<float> otherwise) => Vector256.ConditionalSelect(mask, whenSet, otherwise);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> And(Vector256<float> a, Vector256<float> b) => a & b;
    public static float MaxAcross(Vector256<float> value) => Lanes128.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
    public static float SumAcross(Vector256<float> value) => Vector256.Sum(value);
}

internal readonly unsafe struct Lanes128 : IFloatLanes<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static int TileHeight => 6;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* source) => Vector128.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Exp(Vector128<float> value) => DecodeExp.Evaluate<Lanes128, Vector128<float>>(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> ClampToExpRange(Vector128<float> value) => Vector128.Min(Vector128.Max(value, Vector128.Create(DecodeExp.Lowest)), Vector128.Create(DecodeExp.Highest));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> value) => Vector128.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> PowerOfTwo(Vector128<float> integral) => Vector128.ShiftLeft(Vector128.ConvertToInt32Native(integral) + Vector128.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> mask, Vector128<float> whenSet, Vector128<float> otherwise) => Vector128.ConditionalSelect(mask, whenSet, otherwise);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> And(Vector128<float> a, Vector128<float> b) => a & b;

    public static float MaxAcross(Vector128<float> value)
    {
        float max = value[0];
        for (int lane = 1; lane < Vector128<float>.Count; lane++) max = MathF.Max(max, value[lane]);
        return max;
    }

    public static float SumAcross(Vector128<float> value) => Vector128.Sum(value);
}

/// <summary>
/// One float per "vector", for CPUs without vector units. MultiplyAdd is not fused here: without vector units there is
/// no FMA instruction either, and MathF.FusedMultiplyAdd would fall back to a slow software routine.
/// </summary>
internal readonly unsafe struct LanesScalar : IMultiplyAddLanes<float>
{
    public static int Count => 1;
    public static int TileHeight => 4;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* source) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float value, float* destination) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => a * b + c;
}

/// <summary>
/// The kernels' exp, one body for every lane width: e^x = 2^k · e^r, k = round(x·log2 e), |r| ≤ ln2/2, e^r by a
/// degree-7 Taylor polynomial. Arguments are clamped to [−87, 88] so 2^k stays a normal float: below e^−87
/// (≈ 1.6e−38) a softmax term is indistinguishable from 0 next to the max's 1, and padded lanes are zeroed by mask
/// afterwards anyway. Max relative error ≈ 2 ulp (checked against Math.Exp in the tests).
/// </summary>
internal static class DecodeExp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Evaluate<TLanes, TVector>(TVector value)
        where TLanes : struct, IFloatLanes<TVector>
        where TVector : struct
    {
        var x = TLanes.ClampToExpRange(value);
        var k = TLanes.Round(TLanes.Multiply(x, TLanes.Broadcast(Log2E)));
        var r = TLanes.MultiplyAdd(k, TLanes.Broadcast(-Ln2High), x);
        r = TLanes.MultiplyAdd(k, TLanes.Broadcast(-Ln2Low), r);
        var p = TLanes.Broadcast(C7);
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(C6));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(C5));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(C4));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(C3));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(C2));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(1f));
        p = TLanes.MultiplyAdd(p, r, TLanes.Broadcast(1f));
        return TLanes.Multiply(p, TLanes.PowerOfTwo(k));
    }

    public const float Lowest = -87f;
    public const float Highest = 88f;
    public const float Log2E = 1.44269504088896341f;
    public const float Ln2High = 0.693145751953125f;       // ln 2 rounded to 15 significant bits: k·Ln2High is exact
    public const float Ln2Low = 1.4286068202862268e-6f; // ln 2 − Ln2High
    public const float C2 = 1f / 2;
    public const float C3 = 1f / 6;
    public const float C4 = 1f / 24;
    public const float C5 = 1f / 120;
    public const float C6 = 1f / 720;
    public const float C7 = 1f / 5040;
}
