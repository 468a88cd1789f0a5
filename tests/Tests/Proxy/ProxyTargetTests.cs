using System.Net;
using ConnectionGrid.Gateway.Proxy;
using ConnectionGrid.Proxy;

namespace ConnectionGrid.Tests.Proxy;

/// <summary>The proxy's pure rules: upstream URLs, refused paths, retry decisions and the provider's waits.</summary>
public sealed class ProxyTargetTests
{
    private static readonly ProxyRoute Confluence = new()
    {
        ApiBaseUrl = "https://api.atlassian.com/",
        PathTemplate = "/ex/confluence/{cloudId}",
        DirectPaths = ["/ex/", "/me", "/oauth/token/accessible-resources"],
        AllowedHosts = ["eu.api.example:8443", "egress.internal", "http://plain.internal:8080"],
    };

    private const string Config = """{"cloudId":"11111111-2222-3333-4444-555555555555","baseUrl":"https://acme.atlassian.net"}""";

    private static string Built(string path, string query = "", string? baseOverride = null, ProxyRoute? route = null, string config = Config)
    {
        var (url, error) = ProxyTarget.Build(route ?? Confluence, path, query, config, baseOverride);
        Assert.Null(error);
        return url!.AbsoluteUri;
    }

    private static string Refused(string path, string? baseOverride = null, string config = Config)
    {
        var (url, error) = ProxyTarget.Build(Confluence, path, "", config, baseOverride);
        Assert.Null(url);
        return error!.Value.Error.Code;
    }

    [Fact]
    public void Short_paths_get_the_templates_prefix_and_explicit_ones_go_as_they_are()
    {
        Assert.Equal("https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/wiki/api/v2/pages?limit=5&cursor=a%2Bb",
            Built("/wiki/api/v2/pages", "?limit=5&cursor=a%2Bb"));
        Assert.Equal("https://api.atlassian.com/ex/jira/abc/rest/api/3/search", Built("/ex/jira/abc/rest/api/3/search"));
        Assert.Equal("https://api.atlassian.com/me", Built("/me"));
        Assert.Equal("https://api.atlassian.com/oauth/token/accessible-resources", Built("/oauth/token/accessible-resources"));
        // A provider without a template (the "atlassian" name) and a base URL with a path of its own.
        Assert.Equal("http://127.0.0.1:5000/base/wiki/x", Built("/wiki/x", route: new ProxyRoute { ApiBaseUrl = "http://127.0.0.1:5000/base/" }));
        // An override replaces the base URL; no template applies to it.
        Assert.Equal("https://eu.api.example:8443/wiki/api/v2/pages", Built("/wiki/api/v2/pages", baseOverride: "https://eu.api.example:8443"));
        Assert.Equal("https://egress.internal/v1/wiki", Built("/wiki", baseOverride: "https://egress.internal/v1/"));
    }

    [Fact]
    public void The_template_needs_a_plain_cloud_id_from_the_connection()
    {
        Assert.Equal("missing_connection_config", Refused("/wiki/api/v2/pages", config: "{}"));
        Assert.Equal("missing_connection_config", Refused("/wiki/api/v2/pages", config: """{"cloudId":42}"""));
        Assert.Equal("missing_connection_config", Refused("/wiki/api/v2/pages", config: "not json"));
        foreach (var hostile in new[] { "..", "a/b", "evil.example@x", "x?y", "%2e%2e", "a b" })
        {
            Assert.Equal("invalid_connection_config", Refused("/wiki/api/v2/pages", config: $$"""{"cloudId":"{{hostile}}"}"""));
        }
    }

    [Fact]
    public void An_override_must_name_an_allowed_host_exactly()
    {
        Assert.Equal("base_url_not_allowed", Refused("/x", "https://evil.example/"));
        Assert.Equal("base_url_not_allowed", Refused("/x", "https://eu.api.example/"));          // allowed only on 8443
        Assert.Equal("base_url_not_allowed", Refused("/x", "https://egress.internal:444/"));     // allowed only on its default port
        Assert.Equal("base_url_not_allowed", Refused("/x", "https://egress.internal.evil.example/"));
        Assert.Equal("invalid_base_url_override", Refused("/x", "https://user:pw@egress.internal/"));
        Assert.Equal("invalid_base_url_override", Refused("/x", "https://egress.internal/?a=b"));
        Assert.Equal("invalid_base_url_override", Refused("/x", "ftp://egress.internal/"));
        Assert.Equal("invalid_base_url_override", Refused("/x", "/relative"));
        // The API's own host is always allowed.
        Assert.Equal("https://api.atlassian.com/x", Built("/x", baseOverride: "https://api.atlassian.com"));
    }

    [Fact]
    public void An_override_keeps_the_apis_https_unless_the_operator_named_plain_http()
    {
        // The token would go in cleartext: a bare entry means the API's scheme.
        Assert.Equal("base_url_not_allowed", Refused("/x", "http://egress.internal/"));
        Assert.Equal("base_url_not_allowed", Refused("/x", "http://eu.api.example:8443/"));
        Assert.Equal("base_url_not_allowed", Refused("/x", "http://api.atlassian.com/"));
        // An entry with a scheme allows exactly that scheme, host and port.
        Assert.Equal("http://plain.internal:8080/x", Built("/x", baseOverride: "http://plain.internal:8080"));
        Assert.Equal("base_url_not_allowed", Refused("/x", "https://plain.internal:8080/"));
        Assert.Equal("base_url_not_allowed", Refused("/x", "http://plain.internal/"));
    }

    [Theory]
    [InlineData("egress.internal", true)]
    [InlineData("egress.internal:8443", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("http://egress.internal:8080", true)]
    [InlineData("https://egress.internal", true)]
    [InlineData("http://egress.internal:8080/", true)]
    [InlineData("egress.internal:0", false)]
    [InlineData("egress.internal:99999", false)]
    [InlineData("http://egress.internal:8080:1", false)]
    [InlineData("ftp://egress.internal", false)]
    [InlineData("http://egress.internal/v1", false)]
    [InlineData("http://user:pw@egress.internal", false)]
    [InlineData("http://egress.internal?x=1", false)]
    [InlineData("egress.internal/v1", false)]
    [InlineData("", false)]
    public void Allowed_host_entries_that_could_never_match_are_configuration_errors(string entry, bool valid)
    {
        var overrides = new ConnectionGrid.Providers.ProviderOverrides();
        overrides.Providers["atlassian"] = new ConnectionGrid.Providers.ProviderOverride { ProxyAllowedHosts = [entry] };
        var result = new ConnectionGrid.Providers.ProviderOverridesValidator().Validate(null, overrides);
        Assert.Equal(valid, result.Succeeded);
    }

    [Theory]
    [InlineData("/me", "https://api.atlassian.com/me")]
    [InlineData("/me/", "https://api.atlassian.com/me/")]
    [InlineData("/meta", "https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/meta")]
    [InlineData("/members/x", "https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/members/x")]
    [InlineData("/ex", "https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/ex")]
    [InlineData("/exports", "https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/exports")]
    [InlineData("/oauth/token/accessible-resources", "https://api.atlassian.com/oauth/token/accessible-resources")]
    [InlineData("/oauth/token/accessible-resources-all", "https://api.atlassian.com/ex/confluence/11111111-2222-3333-4444-555555555555/oauth/token/accessible-resources-all")]
    public void Direct_paths_match_whole_segments(string path, string expected)
    {
        Assert.Equal(expected, Built(path));
    }

    [Theory]
    [InlineData("/wiki/../../admin")]
    [InlineData("/wiki/./x")]
    [InlineData("/%2e%2e/admin")]
    [InlineData("/%2E./admin")]
    [InlineData("/wiki/..%2fadmin")]
    [InlineData("/wiki%2F..%2Fadmin")]
    [InlineData("/wiki%5c..%5cadmin")]
    [InlineData("/wiki\\..\\admin")]
    [InlineData("/%252e%252e/admin")]
    [InlineData("//evil.example/wiki")]
    [InlineData("/http://evil.example/")]
    [InlineData("/https:%2F%2Fevil.example")]
    [InlineData("/@evil.example/x")]
    [InlineData("/wiki%40evil.example")]
    [InlineData("/wiki/%00")]
    [InlineData("/wiki/%0d%0aHost:%20evil")]
    [InlineData("/wiki x")]
    [InlineData("/wiki/ü")]
    [InlineData("/")]
    [InlineData("")]
    [InlineData("wiki")]
    [InlineData("/wiki/%zz")]
    public void Paths_that_could_mean_anything_but_a_path_under_the_base_are_refused(string path)
    {
        Assert.Equal("invalid_proxy_path", ProxyTarget.CheckPath(path)?.Value.Error.Code);
    }

    [Theory]
    [InlineData("/wiki/api/v2/pages")]
    [InlineData("/wiki/api/v2/pages/")]
    [InlineData("/wiki/rest/api/content/123/child/attachment")]
    [InlineData("/rest/api/3/issue/ACME-1")]
    [InlineData("/wiki/api/v2/pages/a%20b")]
    [InlineData("/rest/api/3/user/a:b")]
    [InlineData("/ex/confluence/11111111-2222-3333-4444-555555555555/wiki/api/v2/pages")]
    public void Ordinary_api_paths_pass(string path)
    {
        Assert.Null(ProxyTarget.CheckPath(path));
        Assert.StartsWith("https://api.atlassian.com/", Built(path));
    }

    [Fact]
    public void Retries_follow_the_method_the_status_and_Retry_On()
    {
        var (get, _) = ProxyRetryRules.Parse("3", null, "GET", 5);
        Assert.True(get!.Retryable(429) && get.Retryable(503) && get.Retryable(500));
        Assert.False(get.Retryable(404) || get.Retryable(401));
        var (post, _) = ProxyRetryRules.Parse("3", null, "POST", 5);
        Assert.False(post!.Retryable(429) || post.Retryable(503));
        var (postOn, _) = ProxyRetryRules.Parse("3", "429, 503", "POST", 5);
        Assert.True(postOn!.Retryable(429) && postOn.Retryable(503));
        Assert.False(postOn.Retryable(500));
        Assert.Equal(0, ProxyRetryRules.Parse(null, null, "GET", 5).Rules!.Retries);
        Assert.Equal("invalid_retries", ProxyRetryRules.Parse("6", null, "GET", 5).Error!.Value.Error.Code);
        Assert.Equal("invalid_retries", ProxyRetryRules.Parse("-1", null, "GET", 5).Error!.Value.Error.Code);
        Assert.Equal("invalid_retry_on", ProxyRetryRules.Parse("1", "200", "GET", 5).Error!.Value.Error.Code);
        Assert.Equal("invalid_retry_on", ProxyRetryRules.Parse("1", "4xx", "GET", 5).Error!.Value.Error.Code);
    }

    [Fact]
    public void The_providers_wait_comes_from_Retry_After_then_X_RateLimit_Reset()
    {
        var now = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
        HttpResponseMessage With(params (string Name, string Value)[] headers)
        {
            var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
            foreach (var (name, value) in headers)
                response.Headers.TryAddWithoutValidation(name, value);
            return response;
        }
        Assert.Equal(TimeSpan.FromSeconds(7), ProxyRetryRules.ProviderDelay(With(("Retry-After", "7")), now));
        Assert.Equal(TimeSpan.FromSeconds(30), ProxyRetryRules.ProviderDelay(With(("Retry-After", now.AddSeconds(30).ToString("R"))), now));
        Assert.Equal(TimeSpan.FromSeconds(12), ProxyRetryRules.ProviderDelay(With(("X-RateLimit-Reset", "2026-03-01T09:00:12.000Z")), now));
        Assert.Equal(TimeSpan.FromSeconds(3), ProxyRetryRules.ProviderDelay(With(("X-RateLimit-Reset", now.AddSeconds(3).ToUnixTimeSeconds().ToString())), now));
        Assert.Equal(TimeSpan.FromSeconds(2), ProxyRetryRules.ProviderDelay(With(("Retry-After", "2"), ("X-RateLimit-Reset", "2026-03-01T09:00:12.000Z")), now));
        Assert.Equal(TimeSpan.Zero, ProxyRetryRules.ProviderDelay(With(("X-RateLimit-Reset", "2020-01-01T00:00:00Z")), now));
        Assert.Null(ProxyRetryRules.ProviderDelay(With(("X-RateLimit-Reset", "soon")), now));
        Assert.Null(ProxyRetryRules.ProviderDelay(With(), now));
    }
}
