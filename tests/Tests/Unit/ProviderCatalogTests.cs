using ConnectionGrid.Providers;
using ConnectionGrid.Sandbox;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Tests.Unit;

public sealed class ProviderCatalogTests
{
    [Fact]
    public void Atlassian_and_its_aliases_come_from_the_embedded_catalog()
    {
        var catalog = new ProviderCatalog(Options.Create(new ProviderOverrides()), Options.Create(new SandboxOptions()));
        foreach (var name in new[] { "atlassian", "confluence", "jira", "Confluence" })
        {
            var p = catalog.Get(name);
            Assert.Equal("atlassian", p.Name);
            Assert.Equal(new Uri("https://auth.atlassian.com/oauth/token"), p.TokenUrl);
            Assert.Equal("api.atlassian.com", p.AuthorizationParams["audience"]);
            Assert.Equal("consent", p.AuthorizationParams["prompt"]);
            Assert.Contains("offline_access", p.RequiredScopes);
            Assert.Equal(TokenRequestFormat.Json, p.TokenRequestFormat);
            Assert.Equal(TimeSpan.FromDays(90), p.Lifecycle.InactivityExpiry);
            Assert.Equal(TimeSpan.FromDays(365), p.Lifecycle.AbsoluteExpiry);
            Assert.Equal(TimeSpan.FromMinutes(10), p.Lifecycle.ReuseInterval);
            Assert.Equal(TimeSpan.FromHours(1), p.Lifecycle.AccessTokenLifetime);
            Assert.True(p.Lifecycle.RefreshTokenRotation);
        }
        Assert.False(catalog.TryGet("github", out _));
    }

    [Fact]
    public void Operator_overrides_apply_to_the_provider_and_its_aliases()
    {
        var overrides = new ProviderOverrides();
        overrides.Providers["atlassian"] = new ProviderOverride
        {
            TokenUrl = new Uri("http://127.0.0.1:9/oauth/token"),
            RefreshToken = new RefreshTokenOverride { InactivityExpiry = TimeSpan.FromMinutes(2) },
        };
        overrides.Providers["jira"] = new ProviderOverride { ApiBaseUrl = new Uri("http://127.0.0.1:9/") };
        var catalog = new ProviderCatalog(Options.Create(overrides), Options.Create(new SandboxOptions()));

        Assert.Equal(new Uri("http://127.0.0.1:9/oauth/token"), catalog.Get("confluence").TokenUrl);
        Assert.Equal(TimeSpan.FromMinutes(2), catalog.Get("jira").Lifecycle.InactivityExpiry);
        Assert.Equal(new Uri("http://127.0.0.1:9/"), catalog.Get("jira").ApiBaseUrl);
        Assert.Equal(new Uri("https://api.atlassian.com"), catalog.Get("confluence").ApiBaseUrl);
        Assert.Equal(TimeSpan.FromDays(365), catalog.Get("atlassian").Lifecycle.AbsoluteExpiry);
    }

    [Fact]
    public void The_sandbox_provider_exists_only_while_the_sandbox_is_on_and_points_at_it()
    {
        var off = new ProviderCatalog(Options.Create(new ProviderOverrides()), Options.Create(new SandboxOptions()));
        Assert.False(off.TryGet("atlassian-sandbox", out _));
        Assert.False(off.TryGet("confluence-sandbox", out _));

        var on = new ProviderCatalog(Options.Create(new ProviderOverrides()),
            Options.Create(new SandboxOptions { Enabled = true, Url = new Uri("http://127.0.0.1:4711") }));
        foreach (var name in new[] { "atlassian-sandbox", "confluence-sandbox", "jira-sandbox" })
        {
            var p = on.Get(name);
            Assert.True(p.Sandbox);
            Assert.Equal(new Uri("http://127.0.0.1:4711/authorize"), p.AuthorizationUrl);
            Assert.Equal(new Uri("http://127.0.0.1:4711/oauth/token"), p.TokenUrl);
            Assert.Equal(new Uri("http://127.0.0.1:4711/"), p.ApiBaseUrl);
            Assert.Equal("atlassian_sites", p.PostConnection);
            Assert.Equal(TimeSpan.FromDays(365), p.Lifecycle.AbsoluteExpiry);
        }
        // The real provider is untouched by the sandbox.
        Assert.Equal(new Uri("https://auth.atlassian.com/oauth/token"), on.Get("confluence").TokenUrl);
        Assert.False(on.Get("confluence").Sandbox);
    }
}
