using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Tests.Unit;

public sealed class KeyScopesTests
{
    [Fact]
    public void No_scopes_means_full_and_an_empty_list_or_unknown_scopes_are_refused()
    {
        Assert.True(KeyScopes.TryNormalize(null, out var none));
        Assert.Equal(["full"], none);
        // An explicit empty list is a mistake (a key for nothing), never a way to ask for everything.
        Assert.False(KeyScopes.TryNormalize([], out _));
        Assert.True(KeyScopes.TryNormalize(["tokens:read", "connections:read", "tokens:read"], out var two));
        Assert.Equal(["connections:read", "tokens:read"], two);
        Assert.False(KeyScopes.TryNormalize(["admin"], out _));
        Assert.False(KeyScopes.TryNormalize(["FULL"], out _));
    }

    [Fact]
    public void Secret_keys_carry_256_random_bits_behind_a_scannable_prefix_and_are_stored_as_hashes()
    {
        var key = SecretKeys.Generate();
        Assert.StartsWith("cg_sk_", key);
        Assert.Equal(32, Convert.FromBase64String(key["cg_sk_".Length..].Replace('-', '+').Replace('_', '/') + "=").Length);
        Assert.NotEqual(key, SecretKeys.Generate());
        Assert.Equal(64, SecretKeys.Hash(key).Length);
        Assert.DoesNotContain(key["cg_sk_".Length..], SecretKeys.Hash(key));
        Assert.StartsWith("key_", SecretKeys.KeyId(key));
    }
}
