using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Sandbox;

namespace ConnectionGrid.Tests.Infrastructure;

public static class Json
{
    public static async Task<JsonNode> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonNode.Parse(text) ?? throw new InvalidOperationException("Empty JSON body.");
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body) => client.PostAsJsonAsync(path, body);

    /// <summary>A user consents at the emulated Atlassian; the resulting tokens are imported over HTTP.</summary>
    public static async Task<IssuedTokens> ImportConsentedAsync(this HttpClient client, AtlassianEmulator emulator, string integration, string connectionId, DateTimeOffset expiresAt)
    {
        var tokens = emulator.Consent();
        await client.ImportAsync(integration, connectionId, tokens.AccessToken, tokens.RefreshToken, expiresAt, emulator.ClientId, emulator.ClientSecret);
        return tokens;
    }

    /// <summary>Registers a Confluence integration with the emulator's app and imports a connection over HTTP.</summary>
    public static async Task ImportAsync(this HttpClient client, string integration, string connectionId, string accessToken, string refreshToken, DateTimeOffset expiresAt, string clientId, string clientSecret)
    {
        var created = await client.PostAsJsonAsync("integrations", new
        {
            unique_key = integration,
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = clientId, client_secret = clientSecret, scopes = "read:confluence-content.all" },
        });
        if (created.StatusCode != System.Net.HttpStatusCode.Conflict)
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, created.StatusCode);
        }
        var imported = await client.PostAsJsonAsync("connections", new
        {
            provider_config_key = integration,
            connection_id = connectionId,
            credentials = new { type = "OAUTH2", access_token = accessToken, refresh_token = refreshToken, expires_at = expiresAt },
        });
        Assert.Equal(System.Net.HttpStatusCode.OK, imported.StatusCode);
    }
}
