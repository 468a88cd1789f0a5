using Microsoft.Extensions.Options;

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
    /// <summary>Send a PKCE pair in the connect flow (the catalog says whether the provider takes one).</summary>
    public bool? Pkce { get; set; }
    public TimeSpan? AccessTokenLifetime { get; set; }
    public TimeSpan? KeepAliveInterval { get; set; }
    /// <summary>
    /// Hosts a proxy call may name in <c>Base-Url-Override</c>; none by default: <c>host</c> or <c>host:port</c> (with the
    /// API's scheme), or <c>http://host:port</c> to allow plain http explicitly.
    /// </summary>
    public List<string>? ProxyAllowedHosts { get; set; }
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

/// <summary>
/// Each override names a provider of the catalog (or an alias): a misspelt name would otherwise be ignored without a word.
/// Endpoints are absolute http(s) URLs; windows and lifetimes are positive (a reuse interval may be zero).
/// </summary>
internal sealed class ProviderOverridesValidator : IValidateOptions<ProviderOverrides>
{
    /// <summary>
    /// A bare host or host:port (the API's scheme), or http(s)://host[:port] naming the scheme: nothing a URL could hide
    /// a path or credentials in, and no entry that could never match (port 0, another scheme, a path).
    /// </summary>
    internal static bool IsAllowedHostEntry(string entry)
    {
        if (entry.Contains("://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(entry, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.UserInfo.Length == 0
                && url.AbsolutePath == "/" && url.Query.Length == 0 && url.Fragment.Length == 0 && url.Port > 0
                && Uri.CheckHostName(url.Host) != UriHostNameType.Unknown;
        }
        var parts = entry.Split(':');
        return parts.Length <= 2 && Uri.CheckHostName(parts[0]) != UriHostNameType.Unknown
            && (parts.Length == 1 || (ushort.TryParse(parts[1], out var port) && port > 0));
    }

    public ValidateOptionsResult Validate(string? name, ProviderOverrides options)
    {
        var errors = new ValidateOptionsResultBuilder();
        var known = ProviderCatalog.LoadEmbedded().SelectMany(d => d.Aliases.Prepend(d.Name)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (provider, o) in options.Providers)
        {
            var setting = $"{ProviderOverrides.Section}:{provider}";
            if (!known.Contains(provider))
            {
                errors.AddError($"{setting}: '{provider}' is not a provider of the catalog ({string.Join(", ", known.Order(StringComparer.Ordinal))}).");
                continue;
            }
            Endpoint(errors, $"{setting}:AuthorizationUrl", o.AuthorizationUrl);
            Endpoint(errors, $"{setting}:TokenUrl", o.TokenUrl);
            Endpoint(errors, $"{setting}:ApiBaseUrl", o.ApiBaseUrl);
            foreach (var host in o.ProxyAllowedHosts ?? [])
            {
                if (!IsAllowedHostEntry(host))
                {
                    errors.AddError($"{setting}:ProxyAllowedHosts: '{host}' is not host, host:port or http(s)://host:port (no path, query or credentials).");
                }
            }
            Positive(errors, $"{setting}:AccessTokenLifetime", o.AccessTokenLifetime);
            Positive(errors, $"{setting}:KeepAliveInterval", o.KeepAliveInterval);
            Positive(errors, $"{setting}:RefreshToken:InactivityExpiry", o.RefreshToken.InactivityExpiry);
            Positive(errors, $"{setting}:RefreshToken:AbsoluteExpiry", o.RefreshToken.AbsoluteExpiry);
            if (o.RefreshToken.ReuseInterval < TimeSpan.Zero)
            {
                errors.AddError($"{setting}:RefreshToken:ReuseInterval must not be negative.");
            }
        }
        return errors.Build();
    }

    private static void Endpoint(ValidateOptionsResultBuilder errors, string setting, Uri? url)
    {
        if (url is not null && !(url.IsAbsoluteUri && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp)))
        {
            errors.AddError($"{setting} must be an absolute http or https URL.");
        }
    }

    private static void Positive(ValidateOptionsResultBuilder errors, string setting, TimeSpan? value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.AddError($"{setting} must be positive.");
        }
    }
}
