namespace CrossAttention.Core.Kernels;

/// <summary>
/// Plain y = x·Wᵀ + b in double accumulation: the yardstick every fast linear kernel is tested against.
/// </summary>
public static class LinearReference
{
    /// <param name="x">[rows, inFeatures]</param>
    /// <param name="weight">[outFeatures, inFeatures] (nn.Linear layout)</param>
    /// <param name="bias">[outFeatures], or empty for none</param>
    /// <param name="y">[rows, outFeatures]</param>
    public static void Apply(ReadOnlySpan<float> x, int rows, int inFeatures,
        ReadOnlySpan<float> weight, int outFeatures, ReadOnlySpan<float> bias, Span<float> y)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * inFeatures, inFeatures);
            for (int o = 0; o < outFeatures; o++)
            {
                ReadOnlySpan<float> wo = weight.Slice(o * inFeatures, inFeatures);
                double sum = bias.IsEmpty ? 0 : bias[o];
                for (int k = 0; k < inFeatures; k++) sum += (double)xr[k] * wo[k];
                y[r * outFeatures + o] = (float)sum;
            }
        }
    }
}
