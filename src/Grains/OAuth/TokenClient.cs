using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;

namespace ConnectionGrid.OAuth;

/// <summary>A successful token response. <see cref="RawJson"/> is the provider's body, kept for Nango's <c>raw</c> field.</summary>
public sealed record TokenResponse(string AccessToken, string? RefreshToken, int? ExpiresIn, string? Scope, string? TokenType, string RawJson)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"AccessToken = {Common.Redaction.Of(AccessToken)}, RefreshToken = {Common.Redaction.Of(RefreshToken)}, ExpiresIn = {ExpiresIn}");
        return true;
    }
}

public sealed record TokenResult(TokenResponse? Response, RefreshFailure? Failure);

public sealed record ClientCredentials(string ClientId, string ClientSecret)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"ClientId = {ClientId}, ClientSecret = {Common.Redaction.Of(ClientSecret)}");
        return true;
    }
}

/// <summary>Calls providers' token endpoints. Never logs or returns a token in an error.</summary>
public sealed class TokenClient(IHttpClientFactory httpClientFactory, TimeProvider clock)
{
    /// <summary>Retries transport failures: safe only where a lost response can be replayed within the reuse interval.</summary>
    public const string RetryingClient = "oauth-token-retrying";

    /// <summary>Never retries: for single-use refresh tokens, where a replayed request would kill the grant.</summary>
    public const string SingleShotClient = "oauth-token-single";

    public Task<TokenResult> RefreshAsync(ProviderDefinition provider, ClientCredentials client, string refreshToken, CancellationToken cancellationToken) =>
        SendAsync(provider, client, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken }, cancellationToken);

    public Task<TokenResult> ExchangeCodeAsync(ProviderDefinition provider, ClientCredentials client, string code, string redirectUri, string? codeVerifier, CancellationToken cancellationToken)
    {
        var fields = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirectUri };
        if (codeVerifier is not null)
        {
            fields["code_verifier"] = codeVerifier;
        }
        return SendAsync(provider, client, fields, cancellationToken);
    }

    private async Task<TokenResult> SendAsync(ProviderDefinition provider, ClientCredentials client, Dictionary<string, string> fields, CancellationToken cancellationToken)
    {
        var canReplay = !provider.Lifecycle.RefreshTokenRotation || provider.Lifecycle.ReuseInterval > TimeSpan.Zero;
        var http = httpClientFactory.CreateClient(canReplay ? RetryingClient : SingleShotClient);

        using var request = new HttpRequestMessage(HttpMethod.Post, provider.TokenUrl);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (provider.ClientAuth == ClientAuthMethod.ClientSecretBasic)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(client.ClientId)}:{Uri.EscapeDataString(client.ClientSecret)}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
        else
        {
            fields["client_id"] = client.ClientId;
            fields["client_secret"] = client.ClientSecret;
        }
        request.Content = provider.TokenRequestFormat == TokenRequestFormat.Json
            ? JsonContent.Create(fields)
            : new FormUrlEncodedContent(fields);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception exception) when (exception is HttpRequestException or TimeoutException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            return new(null, RefreshFailureClassifier.FromException(exception));
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
            {
                return new(null, RefreshFailureClassifier.FromException(exception));
            }

            var json = TryParse(body);
            if (!response.IsSuccessStatusCode)
            {
                return new(null, RefreshFailureClassifier.FromResponse(response.StatusCode,
                    Text(json, "error"), RetryAfter(response), provider.DeadGrantErrors));
            }

            var accessToken = Text(json, "access_token");
            if (string.IsNullOrEmpty(accessToken))
            {
                return new(null, RefreshFailureClassifier.MalformedResponse("an access_token"));
            }
            return new(new TokenResponse(accessToken, Text(json, "refresh_token") is { Length: > 0 } rt ? rt : null,
                ExpiresIn(json), Text(json, "scope"), Text(json, "token_type"), body), null);
        }
    }

    private static JsonObject? TryParse(string body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonObject? json, string name) =>
        json?[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static int? ExpiresIn(JsonObject? json) => json?["expires_in"] switch
    {
        JsonValue v when v.TryGetValue<int>(out var n) => n,
        JsonValue v when v.TryGetValue<double>(out var d) => (int)d,
        JsonValue v when v.TryGetValue<string>(out var s) && int.TryParse(s, out var n) => n,
        _ => null,
    };

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }
        if (header?.Date is { } date)
        {
            var wait = date - clock.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }
}
