using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Configuration;
using ConnectionGrid.Providers;
using Microsoft.Extensions.Options;

using ConnectionGrid.OAuth;

namespace ConnectionGrid.Connect;

/// <summary>
/// Atlassian's post-connection step: <c>GET {api_base}/oauth/token/accessible-resources</c> lists the sites the grant
/// covers. The connection keeps all of them (<c>sites</c>) and the chosen one's <c>cloudId</c> and <c>baseUrl</c>: the
/// session's <c>site</c> hint (a cloud id, URL or name), else the first whose scopes name the integration's product.
/// </summary>
public sealed class AtlassianSites(IHttpClientFactory httpClientFactory, IOptions<RefreshOptions> options)
{
    public const string Step = "atlassian_sites";
    public const string HttpClientName = "provider-post-connection";
    public const int MaxResponseBytes = 256 * 1024;

    /// <summary>The connection config with the sites added, or an error message (no site, or the provider failed).</summary>
    public async Task<(JsonObject? Config, string? Error)> AddSitesAsync(ProviderDefinition provider, string product, string accessToken, JsonObject config, CancellationToken cancellationToken)
    {
        if (provider.ApiBaseUrl is null)
        {
            return (null, "The provider has no API base URL configured.");
        }
        var http = httpClientFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(provider.ApiBaseUrl, "oauth/token/accessible-resources"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Value.ProviderDeadline);
        JsonArray kept;
        try
        {
            // Read whole into the client's buffer, which is capped at MaxResponseBytes: a longer body (with or without
            // Content-Length) fails the read instead of growing in memory.
            using var response = await http.SendAsync(request, deadline.Token);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"Atlassian answered {(int)response.StatusCode} when asked which sites the grant covers.");
            }
            if (response.Content.Headers.ContentLength > MaxResponseBytes)
            {
                return (null, "Atlassian's list of sites was too large.");
            }
            var body = await response.Content.ReadAsByteArrayAsync(deadline.Token);
            kept = Sites(JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonArray);
        }
        // The answer is untrusted: too large, cut off, not JSON, duplicate names, invalid UTF-8 or lone surrogates in a
        // string all end here, as a failure the user's page explains, never as an exception after the state was spent.
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or ArgumentException or InvalidOperationException)
        {
            return (null, "Atlassian could not be asked which sites the grant covers.");
        }
        if (kept.Count == 0)
        {
            return (null, "The grant covers no Atlassian site: the user must pick a site on Atlassian's consent page.");
        }
        var hint = config["site"] is JsonValue h && h.TryGetValue<string>(out var text) ? text : null;
        var chosen = kept.OfType<JsonObject>().FirstOrDefault(s => hint is not null && Matches(s, hint))
            ?? kept.OfType<JsonObject>().FirstOrDefault(s => (s["scopes"] as JsonArray)!.Any(scope => scope!.GetValue<string>().Contains(product, StringComparison.OrdinalIgnoreCase)))
            ?? (JsonObject)kept[0]!;
        config["cloudId"] = chosen["id"]!.GetValue<string>();
        config["baseUrl"] = chosen["url"]!.GetValue<string>();
        config["sites"] = kept;
        return (config, null);
    }

    private static JsonArray Sites(JsonArray? sites)
    {
        var kept = new JsonArray();
        foreach (var site in sites?.OfType<JsonObject>() ?? [])
        {
            if (ProviderJson.Text(site, "id") is not { } id || ProviderJson.Text(site, "url") is not { } url)
            {
                continue;
            }
            var scopes = site["scopes"] as JsonArray;
            kept.Add(new JsonObject
            {
                ["id"] = id,
                ["name"] = ProviderJson.Text(site, "name"),
                ["url"] = url,
                ["scopes"] = new JsonArray([.. (scopes ?? []).OfType<JsonValue>().Select(s => s.TryGetValue<string>(out var t) ? JsonValue.Create(t) : null).Where(s => s is not null)]),
            });
        }
        // Written once here, so a string that cannot be written again fails now, inside the caller's catch.
        _ = kept.ToJsonString();
        return kept;
    }

    private static bool Matches(JsonObject site, string hint) =>
        new[] { ProviderJson.Text(site, "id"), ProviderJson.Text(site, "url"), ProviderJson.Text(site, "name") }.Any(v => string.Equals(v?.TrimEnd('/'), hint.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));

}
