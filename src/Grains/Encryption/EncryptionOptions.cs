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

    /// <summary>
    /// Refuse stored values in the legacy envelope that is not bound to its row (written before row binding). Off by
    /// default so an upgraded grid keeps serving until <c>POST /admin/encryption/reencrypt</c> has bound every row; turn it
    /// on once <c>GET /admin/encryption</c> reports no unbound rows, so an old unbound value planted in another row is refused.
    /// </summary>
    public bool RequireBoundRows { get; set; }
}

public sealed class EncryptionKey
{
    /// <summary>A short name stored with each value (letters, digits, '-', '_'; at most 32 characters).</summary>
    public string Id { get; set; } = "";

    /// <summary>256 random bits, base64.</summary>
    public string Key { get; set; } = "";
}
