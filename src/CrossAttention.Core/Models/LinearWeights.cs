namespace CrossAttention.Core.Models;

/// <summary>One projection as a checkpoint stores it: PyTorch nn.Linear layout, weight [out, in], optional bias [out].</summary>
public sealed record LinearWeights(float[] Weight, int OutFeatures, int InFeatures, float[]? Bias)
{
    public bool HasBias => Bias is not null;
}
