namespace CrossAttention.Core.Kernels;

/// <summary>
/// An nn.Linear (y = x·Wᵀ + b, W [out, in]) whose weights are packed once, at load, into the layout the
/// projection kernel streams.
/// </summary>
public sealed class PackedLinear
{
    // [outFeatures, inFeatures] as given; the fast kernels replace this with a panel layout.
    private readonly float[] _weight;
    private readonly float[]? _bias;

    private PackedLinear(float[] weight, float[]? bias, int outFeatures, int inFeatures)
    {
        _weight = weight;
        _bias = bias;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }
    public bool HasBias => _bias is not null;

    /// <summary>Bytes held by the packed weights and bias.</summary>
    public long Bytes => sizeof(float) * ((long)_weight.Length + (_bias?.Length ?? 0));

    /// <param name="weight">[outFeatures, inFeatures]</param>
    /// <param name="bias">[outFeatures], or empty for none</param>
    public static PackedLinear Pack(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<float> bias)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"weight has {weight.Length} values, expected {outFeatures}×{inFeatures}.", nameof(weight));
        if (!bias.IsEmpty && bias.Length != outFeatures)
            throw new ArgumentException($"bias has {bias.Length} values, expected {outFeatures}.", nameof(bias));
        return new PackedLinear(weight.ToArray(), bias.IsEmpty ? null : bias.ToArray(), outFeatures, inFeatures);
    }

    /// <summary>y [rows, out] = x [rows, in]·Wᵀ + b.</summary>
    /// <param name="maxThreads">how many threads the call may use (1 = the caller's only)</param>
    public void Apply(ReadOnlySpan<float> x, int rows, Span<float> y, KernelVariant variant, int maxThreads = 1)
    {
        if (x.Length < rows * InFeatures) ThrowTooShort(nameof(x));
        if (y.Length < rows * OutFeatures) ThrowTooShort(nameof(y));
        LinearReference.Apply(x, rows, InFeatures, _weight, OutFeatures, _bias, y);
    }

    /// <inheritdoc cref="Apply(ReadOnlySpan{float}, int, Span{float}, KernelVariant, int)"/>
    public void Apply(ReadOnlySpan<float> x, int rows, Span<float> y, int maxThreads = 1) =>
        Apply(x, rows, y, KernelVariants.Best, maxThreads);

    private static void ThrowTooShort(string name) => throw new ArgumentException("Buffer is too short for the shape.", name);
}
