using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ConnectionGrid.Encryption;

/// <summary>The validated key ring: key ids to 256-bit keys, and the one new writes use.</summary>
public sealed partial class KeyRing
{
    private readonly Dictionary<string, byte[]> _keys;
    private readonly Dictionary<string, byte[]> _checks;

    public KeyRing(string activeKeyId, IReadOnlyDictionary<string, byte[]> keys)
    {
        if (!keys.ContainsKey(activeKeyId))
        {
            throw new InvalidOperationException($"Grid:Encryption:ActiveKeyId '{activeKeyId}' is not one of Grid:Encryption:Keys.");
        }
        foreach (var (id, key) in keys)
        {
            if (!IsValidKeyId(id))
            {
                throw new InvalidOperationException($"Grid:Encryption key id '{id}' must be 1-32 letters, digits, '-' or '_'.");
            }
            if (key.Length != KeySize)
            {
                throw new InvalidOperationException($"Grid:Encryption key '{id}' must be 256 bits (32 bytes, base64), not {key.Length * 8} bits.");
            }
        }
        ActiveKeyId = activeKeyId;
        _keys = new Dictionary<string, byte[]>(keys, StringComparer.Ordinal);
        _checks = _keys.ToDictionary(k => k.Key, k => KeyCheck(k.Value), StringComparer.Ordinal);
    }

    public string ActiveKeyId { get; }

    public byte[] ActiveKey => _keys[ActiveKeyId];

    /// <summary>The active key's check value (see <see cref="KeyCheck"/>).</summary>
    public byte[] ActiveKeyCheck => _checks[ActiveKeyId];

    public bool TryGet(string keyId, out byte[] key) => _keys.TryGetValue(keyId, out key!);

    public bool TryGet(string keyId, out byte[] key, out byte[] check)
    {
        check = _checks.GetValueOrDefault(keyId)!;
        return _keys.TryGetValue(keyId, out key!);
    }

    /// <summary>
    /// 8 bytes that identify a key's material without revealing it (a MAC under the key of a fixed label): stored in each
    /// sealed value, so wrong material under a known key id is told apart from a value that was altered or moved.
    /// </summary>
    public static byte[] KeyCheck(byte[] key) => HMACSHA256.HashData(key, "ConnectionGrid key check v1"u8)[..KeyCheckSize];

    public const int KeyCheckSize = 8;

    /// <summary>AES-256: 32 bytes.</summary>
    public const int KeySize = 32;

    /// <summary>A key id is stored in every sealed value: 1-32 letters, digits, '-' or '_'.</summary>
    public static bool IsValidKeyId(string? id) => id is not null && KeyIdPattern().IsMatch(id);

    /// <summary>
    /// Builds the ring from configuration; null when none is configured. <see cref="EncryptionOptionsValidator"/> has
    /// already said what is wrong with the settings at start-up; this still refuses a malformed ring.
    /// </summary>
    public static KeyRing? FromOptions(EncryptionOptions options)
    {
        if (options.Keys.Count == 0)
        {
            return null;
        }
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var key in options.Keys)
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(key.Key);
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"Grid:Encryption key '{key.Id}' is not valid base64.");
            }
            if (!keys.TryAdd(key.Id, bytes))
            {
                throw new InvalidOperationException($"Grid:Encryption key id '{key.Id}' appears twice.");
            }
        }
        return new KeyRing(options.ActiveKeyId ?? options.Keys[^1].Id, keys);
    }

    /// <summary>
    /// Development only: a key generated into the data directory (mode 0600) on first start and reused afterwards,
    /// so a newcomer's grid encrypts at rest without any setup.
    /// </summary>
    public static KeyRing LoadOrCreateDevelopmentKey(string dataDirectory, out bool created)
    {
        var path = Path.Combine(Path.GetFullPath(dataDirectory), "development-encryption-key.json");
        created = false;
        if (!File.Exists(path))
        {
            var generated = new EncryptionKey { Id = "dev-1", Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
            Storage.PrivateFiles.WriteSecret(path, JsonSerializer.Serialize(generated));
            created = true;
        }
        var key = JsonSerializer.Deserialize<EncryptionKey>(File.ReadAllText(path))
            ?? throw new InvalidOperationException($"{path} is not a valid key file.");
        return FromOptions(new EncryptionOptions { ActiveKeyId = key.Id, Keys = [key] })!;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,32}\z")]
    private static partial Regex KeyIdPattern();
}
