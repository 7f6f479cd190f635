namespace CrossAttention.Core.Models;

/// <summary>
/// A checkpoint could not be turned into a model. The message names the file and, where one is to blame, the tensor,
/// so an operator can fix the folder without a debugger.
/// </summary>
public sealed class ModelLoadException : Exception
{
    public ModelLoadException(string message) : base(message) { }

    public ModelLoadException(string message, Exception innerException) : base(message, innerException) { }
}
