namespace ConnectionGrid.Encryption;

/// <summary>
/// <c>Grid:Encryption</c>: the key ring that encrypts every stored grain state (tokens, client secrets) with AES-256-GCM.
/// New writes use <see cref="ActiveKeyId"/>; every listed key still decrypts, so keys rotate without downtime.
/// </summary>
public sealed class EncryptionOptions
{
    public const string Section = "Grid:Encryption";

    public string? ActiveKeyId { get; set; }

    public List<EncryptionKey> Keys { get; set; } = [];
}

public sealed class EncryptionKey
{
    /// <summary>A short name stored with each value (letters, digits, '-', '_'; at most 32 characters).</summary>
    public string Id { get; set; } = "";

    /// <summary>256 random bits, base64.</summary>
    public string Key { get; set; } = "";
}
