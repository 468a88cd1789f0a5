namespace ConnectionGrid.Providers;

/// <summary>
/// <c>Grid:Providers:&lt;name&gt;</c>: the operator's overrides of the catalog (test fakes, egress proxies, sovereign
/// clouds). Only the operator's configuration can change where the grid sends tokens; nothing a tenant sends can.
/// </summary>
public sealed class ProviderOverride
{
    public Uri? AuthorizationUrl { get; set; }
    public Uri? TokenUrl { get; set; }
    public Uri? ApiBaseUrl { get; set; }
    public TimeSpan? AccessTokenLifetime { get; set; }
    public TimeSpan? KeepAliveInterval { get; set; }
    public RefreshTokenOverride RefreshToken { get; set; } = new();
}

public sealed class RefreshTokenOverride
{
    public TimeSpan? InactivityExpiry { get; set; }
    public TimeSpan? AbsoluteExpiry { get; set; }
    public TimeSpan? ReuseInterval { get; set; }
}

public sealed class ProviderOverrides
{
    public const string Section = "Grid:Providers";

    public Dictionary<string, ProviderOverride> Providers { get; } = new(StringComparer.OrdinalIgnoreCase);
}
