namespace CrossAttention.Api.Sessions;

/// <summary>
/// A session's identity in the store: ids are namespaced by owner (the API key's name, or empty without keys), so a
/// caller can name only its own sessions and two owners may use the same id. Plain strings, so a shared tier can
/// store it as they are (e.g. <see cref="StorageKey"/>).
/// </summary>
public readonly record struct SessionKey(string Owner, string Id)
{
    /// <summary>One string for stores keyed by text: owner names cannot contain '/', ids neither.</summary>
    public string StorageKey => $"{Owner}/{Id}";
}
