using ConnectionGrid.Common;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Gateway.Admin;

public sealed record TenantJson(string Id, string? DisplayName, DateTimeOffset CreatedAt, IReadOnlyList<KeyJson>? Keys);

public sealed record TenantListJson(IReadOnlyList<TenantJson> Data, string? NextCursor);

public sealed record KeyJson(string Id, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt)
{
    public static KeyJson From(TenantKeyInfo key) => new(key.KeyId, key.Scopes, key.CreatedAt);
}

/// <summary>The only response that carries a secret key: the key is shown once and never again.</summary>
public sealed record CreatedTenantJson(string Id, string? DisplayName, DateTimeOffset CreatedAt, string SecretKey, KeyJson Key)
{
    public override string ToString() => $"CreatedTenantJson {{ Id = {Id}, SecretKey = {Redaction.Of(SecretKey)} }}";
}

public sealed record CreatedKeyJson(string Id, string SecretKey, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt)
{
    public override string ToString() => $"CreatedKeyJson {{ Id = {Id}, SecretKey = {Redaction.Of(SecretKey)} }}";
}
