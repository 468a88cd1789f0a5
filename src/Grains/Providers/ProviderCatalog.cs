using Microsoft.Extensions.Options;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace ConnectionGrid.Providers;

/// <summary>The embedded provider catalog with the operator's overrides applied. Aliases resolve to their provider.</summary>
public sealed class ProviderCatalog
{
    private readonly Dictionary<string, ProviderDefinition> _byName = new(StringComparer.OrdinalIgnoreCase);

    public ProviderCatalog(IOptions<ProviderOverrides> overrides, IOptions<Sandbox.SandboxOptions> sandbox)
    {
        foreach (var entry in LoadEmbedded())
        {
            // Sandbox providers exist only while the sandbox runs, and always point at it.
            if (entry.Sandbox && !sandbox.Value.Enabled)
            {
                continue;
            }
            var definition = entry.Sandbox ? Rebase(entry, sandbox.Value.Url) : entry;
            // An override may name the provider or one of its aliases; an alias's override wins for that alias.
            overrides.Value.Providers.TryGetValue(definition.Name, out var shared);
            _byName[definition.Name] = Apply(definition, shared);
            foreach (var alias in definition.Aliases)
            {
                overrides.Value.Providers.TryGetValue(alias, out var own);
                _byName[alias] = Apply(Apply(definition, shared), own);
            }
        }
    }

    public IEnumerable<string> Names => _byName.Keys;

    public bool TryGet(string name, out ProviderDefinition definition) => _byName.TryGetValue(name, out definition!);

    public ProviderDefinition Get(string name) =>
        _byName.TryGetValue(name, out var definition) ? definition : throw new KeyNotFoundException($"Unknown provider '{name}'.");

    private static ProviderDefinition Rebase(ProviderDefinition definition, Uri sandbox)
    {
        Uri Moved(Uri url) => new(sandbox, url.PathAndQuery);
        return definition with
        {
            AuthorizationUrl = Moved(definition.AuthorizationUrl),
            TokenUrl = Moved(definition.TokenUrl),
            ApiBaseUrl = definition.ApiBaseUrl is null ? null : Moved(definition.ApiBaseUrl),
        };
    }

    private static ProviderDefinition Apply(ProviderDefinition definition, ProviderOverride? o)
    {
        if (o is null)
        {
            return definition;
        }

        var lifecycle = definition.Lifecycle with
        {
            AccessTokenLifetime = o.AccessTokenLifetime ?? definition.Lifecycle.AccessTokenLifetime,
            KeepAliveInterval = o.KeepAliveInterval ?? definition.Lifecycle.KeepAliveInterval,
            InactivityExpiry = o.RefreshToken.InactivityExpiry ?? definition.Lifecycle.InactivityExpiry,
            AbsoluteExpiry = o.RefreshToken.AbsoluteExpiry ?? definition.Lifecycle.AbsoluteExpiry,
            ReuseInterval = o.RefreshToken.ReuseInterval ?? definition.Lifecycle.ReuseInterval,
        };
        return definition with
        {
            AuthorizationUrl = o.AuthorizationUrl ?? definition.AuthorizationUrl,
            TokenUrl = o.TokenUrl ?? definition.TokenUrl,
            ApiBaseUrl = o.ApiBaseUrl ?? definition.ApiBaseUrl,
            Pkce = o.Pkce ?? definition.Pkce,
            ProxyAllowedHosts = o.ProxyAllowedHosts is { Count: > 0 } hosts ? hosts : definition.ProxyAllowedHosts,
            Lifecycle = lifecycle,
        };
    }

    internal static IReadOnlyList<ProviderDefinition> LoadEmbedded()
    {
        using var stream = typeof(ProviderCatalog).Assembly.GetManifestResourceStream("ConnectionGrid.Providers.catalog.yaml")
            ?? throw new InvalidOperationException("The embedded provider catalog is missing.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    internal static IReadOnlyList<ProviderDefinition> Parse(string yaml)
    {
        var document = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .Build()
            .Deserialize<CatalogDocument>(yaml);

        return document.Providers.Select(pair => pair.Value.ToDefinition(pair.Key)).ToList();
    }

    // The YAML shape; kept apart from ProviderDefinition so the file format can evolve without touching callers.
    private sealed class CatalogDocument
    {
        public Dictionary<string, CatalogEntry> Providers { get; set; } = [];
    }

    private sealed class CatalogEntry
    {
        public string? DisplayName { get; set; }
        public List<string> Aliases { get; set; } = [];
        public string AuthorizationUrl { get; set; } = "";
        public string TokenUrl { get; set; } = "";
        public string? ApiBaseUrl { get; set; }
        public Dictionary<string, string> AuthorizationParams { get; set; } = [];
        public string ScopeSeparator { get; set; } = " ";
        public List<string> DefaultScopes { get; set; } = [];
        public List<string> RequiredScopes { get; set; } = [];
        public string ClientAuth { get; set; } = "client_secret_post";
        public string TokenRequestFormat { get; set; } = "form";
        public LifecycleEntry TokenLifecycle { get; set; } = new();
        public List<string> DeadGrantErrors { get; set; } = [.. Refresh.RefreshFailureClassifier.DefaultDeadGrantErrors];
        public bool Pkce { get; set; }
        public string? PostConnection { get; set; }
        public bool Sandbox { get; set; }
        public ProxyEntry Proxy { get; set; } = new();

        public ProviderDefinition ToDefinition(string name) => new()
        {
            Name = name,
            DisplayName = DisplayName ?? name,
            Aliases = Aliases,
            AuthorizationUrl = new Uri(AuthorizationUrl),
            TokenUrl = new Uri(TokenUrl),
            ApiBaseUrl = ApiBaseUrl is null ? null : new Uri(ApiBaseUrl),
            AuthorizationParams = AuthorizationParams,
            ScopeSeparator = ScopeSeparator,
            DefaultScopes = DefaultScopes,
            RequiredScopes = RequiredScopes,
            ClientAuth = ClientAuth switch
            {
                "client_secret_post" => ClientAuthMethod.ClientSecretPost,
                "client_secret_basic" => ClientAuthMethod.ClientSecretBasic,
                _ => throw new InvalidOperationException($"Provider '{name}': unknown client_auth '{ClientAuth}'."),
            },
            TokenRequestFormat = TokenRequestFormat switch
            {
                "json" => Providers.TokenRequestFormat.Json,
                "form" => Providers.TokenRequestFormat.Form,
                _ => throw new InvalidOperationException($"Provider '{name}': unknown token_request_format '{TokenRequestFormat}'."),
            },
            Lifecycle = TokenLifecycle.ToLifecycle(),
            DeadGrantErrors = DeadGrantErrors,
            Pkce = Pkce,
            PostConnection = PostConnection,
            Sandbox = Sandbox,
            ProxyPathTemplates = Proxy.PathTemplates,
            ProxyDirectPaths = Proxy.DirectPaths,
        };
    }

    private sealed class ProxyEntry
    {
        public Dictionary<string, string> PathTemplates { get; set; } = [];
        public List<string> DirectPaths { get; set; } = [];
    }

    private sealed class LifecycleEntry
    {
        public string? AccessTokenLifetime { get; set; }
        public bool RefreshTokenRotation { get; set; }
        public string? ReuseInterval { get; set; }
        public string? InactivityExpiry { get; set; }
        public string? AbsoluteExpiry { get; set; }
        public string? KeepAliveInterval { get; set; }

        public TokenLifecycle ToLifecycle() => new()
        {
            AccessTokenLifetime = ParseSpan(AccessTokenLifetime),
            RefreshTokenRotation = RefreshTokenRotation,
            ReuseInterval = ParseSpan(ReuseInterval) ?? TimeSpan.Zero,
            InactivityExpiry = ParseSpan(InactivityExpiry),
            AbsoluteExpiry = ParseSpan(AbsoluteExpiry),
            KeepAliveInterval = ParseSpan(KeepAliveInterval),
        };

        private static TimeSpan? ParseSpan(string? value) =>
            string.IsNullOrWhiteSpace(value) ? null : TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
