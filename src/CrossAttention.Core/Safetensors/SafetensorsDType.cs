namespace CrossAttention.Core.Safetensors;

/// <summary>The element types a safetensors header may name, and their sizes.</summary>
public static class SafetensorsDType
{
    public const string F64 = "F64";
    public const string F32 = "F32";
    public const string F16 = "F16";
    public const string BF16 = "BF16";
    public const string I64 = "I64";
    public const string I32 = "I32";
    public const string U8 = "U8";
    public const string Bool = "BOOL";

    /// <summary>
    /// Bytes per element, or 0 for a type this reader does not know (such tensors are listed, and their offsets
    /// checked against the data region, but their size cannot be checked against the shape).
    /// </summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    /// <summary>The types <see cref="SafetensorsFile.ReadSingles"/> converts to float32 (what weights may be).</summary>
    public static bool IsWeightType(string dtype) => dtype is F32 or F16 or BF16;
}
