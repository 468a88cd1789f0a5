using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Configuration;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.OAuth;

/// <summary>A successful token response. <see cref="RawJson"/> is the provider's body as read (see <see cref="ProviderJson"/>), kept for Nango's <c>raw</c> field.</summary>
public sealed record TokenResponse(string AccessToken, string? RefreshToken, int? ExpiresIn, string? Scope, string? TokenType, string? RawJson)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"AccessToken = {Common.Redaction.Of(AccessToken)}, RefreshToken = {Common.Redaction.Of(RefreshToken)}, ExpiresIn = {ExpiresIn}");
        return true;
    }
}

/// <param name="IssuedRefreshToken">
/// With a failure: a refresh token found in a successful answer that was unusable otherwise (no access token, cut off).
/// The provider has rotated, so the old refresh token may already be dead: this one must be kept.
/// </param>
public sealed record TokenResult(TokenResponse? Response, RefreshFailure? Failure, string? IssuedRefreshToken = null)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Response = {Response}, Failure = {Failure}, IssuedRefreshToken = {Common.Redaction.Of(IssuedRefreshToken)}");
        return true;
    }
}

public sealed record ClientCredentials(string ClientId, string ClientSecret)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"ClientId = {ClientId}, ClientSecret = {Common.Redaction.Of(ClientSecret)}");
        return true;
    }
}

/// <summary>
/// Calls providers' token endpoints. Never logs or returns a token in an error. The answer is untrusted: its size and
/// the time it takes are bounded, and it is read with <see cref="ProviderJson"/>, which never throws.
/// </summary>
public sealed class TokenClient(IHttpClientFactory httpClientFactory, TimeProvider clock, IOptions<RefreshOptions> options)
{
    /// <summary>The most of a token endpoint's answer that is read; a longer answer is cut there (a failure unless its tokens came first), not a memory hog.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>The most of an answer kept as <c>raw</c>; beyond it only RFC 6749's fields are kept.</summary>
    public const int MaxRawBytes = 16 * 1024;

    /// <summary>The longest <c>expires_in</c> believed (a year); longer, negative or unreadable ones count as absent.</summary>
    public const int MaxExpiresInSeconds = 365 * 24 * 60 * 60;

    private static readonly string[] StandardFields = ["access_token", "token_type", "expires_in", "refresh_token", "scope"];

    /// <summary>Retries transport failures: safe only where a lost response can be replayed within the reuse interval.</summary>
    public const string RetryingClient = "oauth-token-retrying";

    /// <summary>Never retries: for single-use refresh tokens, where a replayed request would kill the grant.</summary>
    public const string SingleShotClient = "oauth-token-single";

    // A lost refresh may be replayed only where the provider accepts the previous refresh token for a while.
    public Task<TokenResult> RefreshAsync(ProviderDefinition provider, ClientCredentials client, string refreshToken, CancellationToken cancellationToken) =>
        SendAsync(provider, client, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken },
            canReplay: !provider.Lifecycle.RefreshTokenRotation || provider.Lifecycle.ReuseInterval > TimeSpan.Zero, cancellationToken);

    public Task<TokenResult> ExchangeCodeAsync(ProviderDefinition provider, ClientCredentials client, string code, string redirectUri, string? codeVerifier, CancellationToken cancellationToken)
    {
        var fields = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirectUri };
        if (codeVerifier is not null)
        {
            fields["code_verifier"] = codeVerifier;
        }
        // Never replayed: a code is single-use, and a provider may revoke what it issued for a code presented twice
        // (RFC 6749 4.1.2); after a lost answer the user consents again instead.
        return SendAsync(provider, client, fields, canReplay: false, cancellationToken);
    }

    private async Task<TokenResult> SendAsync(ProviderDefinition provider, ClientCredentials client, Dictionary<string, string> fields, bool canReplay, CancellationToken cancellationToken)
    {
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

        // One deadline for the whole exchange, answer body included (the resilience pipeline's timeouts end when the
        // headers arrive): a provider that drips its body cannot hold the grain past it. Real time, like any network timeout.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Value.ProviderDeadline);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or TimeoutException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            return new(null, RefreshFailureClassifier.FromException(exception));
        }

        using (response)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(MaxResponseBytes + 1);
            try
            {
                var (length, broken) = await ReadBodyAsync(response.Content, buffer, deadline.Token);
                // Cut off by the cap or by a break (deadline, dropped connection): what arrived is read like a truncated
                // body, because it may carry the provider's rotation; the failure names why the rest is missing.
                var cutOff = broken is not null ? RefreshFailureClassifier.FromException(broken)
                    : length > MaxResponseBytes ? RefreshFailureClassifier.OversizeResponse(MaxResponseBytes)
                    : null;
                return Interpret(provider, response, buffer.AsSpan(0, Math.Min(length, MaxResponseBytes)), cutOff, broken is not null);
            }
            finally
            {
                // The buffer held tokens: cleared before anything else may rent it.
                ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            }
        }
    }

    /// <summary>
    /// Reads the body into <paramref name="buffer"/>, stopping one byte past <see cref="MaxResponseBytes"/> (whatever
    /// Content-Length says) or at a break, whose exception is returned with the bytes that arrived before it.
    /// </summary>
    private static async Task<(int Length, Exception? Broken)> ReadBodyAsync(HttpContent content, byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancellationToken);
            while (total <= MaxResponseBytes)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(total, MaxResponseBytes + 1 - total), cancellationToken);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            return (total, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
        {
            return (total, exception);
        }
    }

    /// <param name="body">The answer as read, at most <see cref="MaxResponseBytes"/>.</param>
    /// <param name="cutOff">Why the rest of the answer was not read (over the cap, a break), or null when it was read whole.</param>
    /// <param name="broken">The read broke off (deadline, dropped connection) rather than stopping at the cap.</param>
    private TokenResult Interpret(ProviderDefinition provider, HttpResponseMessage response, ReadOnlySpan<byte> body, RefreshFailure? cutOff, bool broken)
    {
        if (!response.IsSuccessStatusCode)
        {
            if (broken)
            {
                return new(null, cutOff);
            }
            // Classified by status and OAuth error code; an error page too large to read is still its status.
            var error = cutOff is null ? ProviderJson.Text(ProviderJson.Read(body).Object, "error") : null;
            return new(null, RefreshFailureClassifier.FromResponse(response.StatusCode, error, RetryAfter(response), provider.DeadGrantErrors));
        }

        var document = ProviderJson.Read(body);
        var json = document.Object;
        var complete = document.Complete && cutOff is null;
        var accessToken = ProviderJson.Text(json, "access_token");
        var refreshToken = ProviderJson.Text(json, "refresh_token");
        // A body cut off after both tokens (truncated, over the cap, stalled) is still the provider's rotation: taken.
        // Cut off before the refresh token, it is unknown whether one was issued, so it is retried with the old one
        // (the provider's reuse interval covers that); one that was issued is kept with the failure.
        if (accessToken is not null && (complete || refreshToken is not null))
        {
            return new(new TokenResponse(accessToken, refreshToken, ExpiresIn(json), ProviderJson.Text(json, "scope"), ProviderJson.Text(json, "token_type"), RawJson(json!)), null);
        }
        var missing = json is null ? "a JSON object" : accessToken is null ? "an access_token" : "a complete body";
        return new(null, cutOff ?? RefreshFailureClassifier.MalformedResponse(missing), refreshToken);
    }

    /// <summary>The members read (so the text always re-serializes); beyond <see cref="MaxRawBytes"/> only the standard ones.</summary>
    private static string? RawJson(JsonObject json)
    {
        var text = json.ToJsonString();
        if (Encoding.UTF8.GetByteCount(text) <= MaxRawBytes)
        {
            return text;
        }
        var standard = new JsonObject();
        foreach (var name in StandardFields)
        {
            if (json.TryGetPropertyValue(name, out var value))
            {
                standard[name] = value?.DeepClone();
            }
        }
        text = standard.ToJsonString();
        // Still too large (absurd tokens): none; the API then shows a raw made of the access token alone.
        return Encoding.UTF8.GetByteCount(text) <= MaxRawBytes ? text : null;
    }


    /// <summary>Seconds as a number or a numeric string (fractions dropped); negative, zero or absurd values count as absent.</summary>
    private static int? ExpiresIn(JsonObject? json)
    {
        double? seconds = json is not null && json.TryGetPropertyValue("expires_in", out var node) && node is JsonValue value
            ? value.TryGetValue<double>(out var number) ? number
            : value.TryGetValue<string>(out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed
            : null
            : null;
        return seconds is >= 1 and <= MaxExpiresInSeconds ? (int)seconds.Value : null;
    }

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
