namespace CrossAttention.Core.Safetensors;

/// <summary>
/// A safetensors file (or a sharded checkpoint's index) cannot be read as asked. The message names the file and,
/// where one is to blame, the tensor, so an operator can fix the folder without a debugger.
/// </summary>
public sealed class SafetensorsException : Exception
{
    /// <param name="file">the file's name as the checkpoint knows it</param>
    /// <param name="tensor">the tensor to blame, or null when the file as a whole is</param>
    /// <param name="reason">what is wrong, to follow the file and tensor in the message</param>
    public SafetensorsException(string file, string? tensor, string reason, Exception? innerException = null)
        : base(tensor is null ? $"{file}: {reason}" : $"{file}: tensor '{tensor}' {reason}", innerException)
    {
        File = file;
        Tensor = tensor;
        Reason = reason;
    }

    public string File { get; }
    public string? Tensor { get; }
    public string Reason { get; }
}
