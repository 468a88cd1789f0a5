using Microsoft.Extensions.Caching.Memory;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// Hashes of secret keys this node authenticated recently. It vouches for nothing: a key found here is still resolved
/// by its grain (so a revocation takes effect at once); it only lets a valid key through an address whose invalid keys
/// are throttled, without giving every key from that address a lookup.
/// </summary>
public sealed class RecentlyValidKeys : IDisposable
{
    private static readonly MemoryCacheEntryOptions Entry = new() { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(15) };
    private readonly MemoryCache _hashes = new(new MemoryCacheOptions { SizeLimit = 100_000 });

    public bool Contains(string keyHash) => _hashes.TryGetValue(keyHash, out _);

    public void Remember(string keyHash)
    {
        if (!_hashes.TryGetValue(keyHash, out _))
        {
            _hashes.Set(keyHash, true, Entry);
        }
    }

    public void Dispose() => _hashes.Dispose();
}
