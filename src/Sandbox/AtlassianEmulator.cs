using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// An Atlassian OAuth 2.0 (3LO) authorization server and API front door on real loopback HTTP, for tests of code that
/// refreshes rotating tokens. Strict on purpose: whatever real Atlassian would punish (reuse, expiry, wrong client),
/// this punishes too. See shared/facts/atlassian-oauth.md for the behaviour it follows.
/// </summary>
public sealed class AtlassianEmulator : IAsyncDisposable
{
    private const string Audience = "api.atlassian.com";

    // Echoed bodies stay readable ("a" rather than \u0022a\u0022); nothing here is rendered as HTML.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly AtlassianAuthority _authority;
    private readonly ConcurrentQueue<Fault> _faults = new();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;

    private AtlassianEmulator(AtlassianEmulatorOptions options, TimeProvider clock)
    {
        options.ClientId ??= "emu-client-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        options.ClientSecret ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        Options = options;
        _authority = new AtlassianAuthority(options, clock);
        Api = new AtlassianApi(Authenticate, () => Options.Sites, clock);
    }

    /// <summary>The emulated REST APIs (Confluence pages, Jira issues, rate limits, stale tokens, large bodies).</summary>
    public AtlassianApi Api { get; }

    public static async Task<AtlassianEmulator> StartAsync(AtlassianEmulatorOptions? options = null, TimeProvider? clock = null)
    {
        var emulator = new AtlassianEmulator(options ?? new AtlassianEmulatorOptions(), clock ?? TimeProvider.System);
        await emulator.StartServerAsync();
        return emulator;
    }

    public Uri BaseUrl { get; private set; } = null!;
    public string TokenUrl => BaseUrl + "oauth/token";
    public string AuthorizationUrl => BaseUrl + "authorize";
    public string ApiBaseUrl => BaseUrl.ToString();
    public string AccessibleResourcesUrl => BaseUrl + "oauth/token/accessible-resources";

    public AtlassianEmulatorOptions Options { get; }
    public string ClientId => Options.ClientId!;
    public string ClientSecret => Options.ClientSecret!;

    /// <summary>The first site's cloud id (what accessible-resources lists first).</summary>
    public string CloudId => Options.Sites[0].Id;

    /// <summary>As if the user went through consent: a new token family with offline_access (required).</summary>
    public IssuedTokens Consent(string scope = "read:confluence-content.all offline_access") => _authority.Consent(scope);

    /// <summary>Queues a fault; each token-endpoint request takes the oldest one, if any.</summary>
    public void Enqueue(Fault fault) => _faults.Enqueue(fault);

    public int PendingFaults => _faults.Count;

    /// <summary>Every token-endpoint request, in the order the server decided them (a snapshot).</summary>
    public IReadOnlyList<LedgerEntry> Ledger => _authority.Ledger;

    /// <summary>Refresh grants that issued tokens: both "rotated" and "reused_within_leeway".</summary>
    public int SuccessfulRefreshes => _authority.SuccessfulRefreshes;

    public int Breaches => _authority.Breaches;

    public bool IsCurrentRefreshToken(string refreshToken) => _authority.IsCurrentRefreshToken(refreshToken);

    /// <summary>Unknown, expired, or of a revoked family: false. Revocation kills access tokens too (strict).</summary>
    public bool IsValidAccessToken(string accessToken) => _authority.ScopeOfAccessToken(accessToken) is not null;

    /// <summary>Null when the family is unknown, revoked, expired, or was granted without offline_access.</summary>
    public string? CurrentRefreshToken(string familyId) => _authority.CurrentRefreshToken(familyId);

    /// <summary>The user revokes the app: every token of the family dies.</summary>
    public void RevokeFamilyOf(string refreshToken) => _authority.RevokeFamilyOf(refreshToken);

    public void RevokeFamily(string familyId) => _authority.RevokeFamily(familyId);

    private async Task StartServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Ignore the host process's appsettings.json and ASPNETCORE_* variables: they could move or add endpoints.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(); // UseUrls below needs somewhere to write
        // No logging at all: request lines and errors could carry tokens, and tests do not need the noise.
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(Options.ListenUrl);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));

        var app = builder.Build();
        app.MapPost("/oauth/token", HandleTokenAsync);
        app.MapMethods("/authorize", ["GET", "POST"], HandleAuthorizeAsync);
        app.MapGet("/oauth/token/accessible-resources", HandleAccessibleResourcesAsync);
        app.MapGet("/me", HandleMeAsync);
        Api.Map(app);
        app.MapMethods("/ex/{product}/{cloudId}/{**rest}", ["GET", "POST", "PUT", "PATCH", "DELETE"], HandleApiAsync);

        await app.StartAsync();
        _app = app;
        var address = app.Urls.First(); // after start: the bound address, with the real port
        BaseUrl = new Uri(address.TrimEnd('/') + "/");
    }

    private async Task HandleTokenAsync(HttpContext ctx)
    {
        var p = await ReadParamsAsync(ctx.Request);
        var grantType = p?.GetValueOrDefault("grant_type") ?? "";
        var presented = grantType == "refresh_token" ? p?.GetValueOrDefault("refresh_token") : null;
        _faults.TryDequeue(out var fault);
        // Requests that wait on purpose end when the client gives up or the emulator stops, whichever comes first.
        using var abandoned = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);

        switch (fault)
        {
            case Fault.LatencyFault latency:
                try
                {
                    await Task.Delay(latency.Delay, abandoned.Token);
                }
                catch (OperationCanceledException)
                {
                    // The client gave up before the server got to it: nothing was processed.
                    _authority.Record(grantType, presented, "fault:" + fault.Kind, 0);
                    ctx.Abort();
                    return;
                }
                break;
            case Fault.StatusFault status:
                _authority.Record(grantType, presented, "fault:" + fault.Kind, status.StatusCode);
                ctx.Response.Headers.CacheControl = "no-store";
                if (status.RetryAfter is { } retryAfter)
                    ctx.Response.Headers.RetryAfter = ((long)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
                await WriteAsync(ctx, status.StatusCode, status.Body ?? new JsonObject
                {
                    ["code"] = status.StatusCode,
                    ["message"] = ReasonPhrases.GetReasonPhrase(status.StatusCode),
                }.ToJsonString());
                return;
            case Fault.HangFault:
                _authority.Record(grantType, presented, "fault:" + fault.Kind, 0);
                try { await Task.Delay(Timeout.Infinite, abandoned.Token); }
                catch (OperationCanceledException) { }
                ctx.Abort();
                return;
            case Fault.RawFault raw:
                _authority.Record(grantType, presented, "fault:" + fault.Kind, raw.StatusCode);
                foreach (var (name, value) in raw.Headers)
                    ctx.Response.Headers[name] = value;
                await WriteBytesAsync(ctx, raw.StatusCode, raw.Body, raw.ContentType, abandoned.Token);
                return;
            case Fault.DripFault drip:
                _authority.Record(grantType, presented, "fault:" + fault.Kind, 200);
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/json";
                try
                {
                    await ctx.Response.Body.WriteAsync("{"u8.ToArray(), abandoned.Token);
                    await ctx.Response.Body.FlushAsync(abandoned.Token);
                    while (true)
                    {
                        await Task.Delay(drip.Interval, abandoned.Token);
                        await ctx.Response.Body.WriteAsync(" "u8.ToArray(), abandoned.Token);
                        await ctx.Response.Body.FlushAsync(abandoned.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
                {
                    // The client gave up (what a drip is for) or the emulator stops.
                }
                ctx.Abort();
                return;
        }

        AtlassianAuthority.TokenResult result;
        if (p is null)
        {
            result = new(400, AtlassianAuthority.Error("invalid_request", "Body must be JSON or form-encoded"), "bad_request");
            _authority.Record(grantType, presented, result.Outcome, result.Status, fault?.Kind);
        }
        else
        {
            result = _authority.Exchange(p, fault?.Kind);
        }

        if (fault is Fault.LoseResponseFault)
        {
            // The server did the work (a refresh rotated); the client sees a dropped connection instead of the tokens.
            ctx.Abort();
            return;
        }
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.Headers.Pragma = "no-cache";
        if (fault is Fault.RewriteFault rewrite)
        {
            var bytes = rewrite.Rewrite(result.Body.ToJsonString());
            if (rewrite.SendContentLength)
                ctx.Response.ContentLength = bytes.Length;
            await WriteBytesAsync(ctx, result.Status, bytes, rewrite.ContentType, abandoned.Token);
            return;
        }
        if (fault is Fault.StallFault stall)
        {
            ctx.Response.StatusCode = result.Status;
            ctx.Response.ContentType = "application/json";
            try
            {
                await ctx.Response.Body.WriteAsync(stall.Rewrite(result.Body.ToJsonString()), abandoned.Token);
                await ctx.Response.Body.FlushAsync(abandoned.Token);
                await Task.Delay(Timeout.Infinite, abandoned.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                // The client gave up (what a stall is for) or the emulator stops.
            }
            ctx.Abort();
            return;
        }
        await WriteAsync(ctx, result.Status, result.Body.ToJsonString());
    }

    /// <summary>Writes a body as it is (however large or broken); a client that hangs up midway is not an error here.</summary>
    private static async Task WriteBytesAsync(HttpContext ctx, int status, byte[] body, string? contentType, CancellationToken cancellationToken)
    {
        ctx.Response.StatusCode = status;
        if (contentType is not null)
            ctx.Response.ContentType = contentType;
        try
        {
            await ctx.Response.Body.WriteAsync(body, cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            ctx.Abort();
        }
    }

    /// <summary>
    /// The authorization endpoint. Auto-consent (the default) answers at once with the redirect the browser would follow
    /// after the user clicks "Accept"; with <see cref="AtlassianEmulatorOptions.InteractiveConsent"/> it shows a consent
    /// page whose Accept and Deny buttons post back here. Problems with the client or redirect_uri get an error page
    /// (never a redirect to an unverified URI).
    /// </summary>
    private async Task HandleAuthorizeAsync(HttpContext ctx)
    {
        IReadOnlyDictionary<string, string> p;
        var decided = HttpMethods.IsPost(ctx.Request.Method);
        if (decided)
        {
            if (!ctx.Request.HasFormContentType)
            {
                await WriteAsync(ctx, 400, "The consent form must be form-encoded", "text/plain");
                return;
            }
            var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
            p = form.ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal);
        }
        else
        {
            p = ctx.Request.Query.ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal);
        }
        string? Get(string name) => p.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;

        var redirectUri = Get("redirect_uri");
        var state = Get("state");
        if (Get("client_id") != ClientId)
        {
            await WriteAsync(ctx, 400, "Invalid client_id", "text/plain");
            return;
        }
        if (redirectUri is null || !Uri.TryCreate(redirectUri, UriKind.Absolute, out _)
            || (Options.RedirectUri is { } registered && registered != redirectUri))
        {
            await WriteAsync(ctx, 400, "redirect_uri does not match the app's callback URL", "text/plain");
            return;
        }
        if (Get("audience") != Audience)
        {
            await WriteAsync(ctx, 400, "audience must be " + Audience, "text/plain");
            return;
        }
        if (state is null)
        {
            await WriteAsync(ctx, 400, "state is required", "text/plain");
            return;
        }

        Dictionary<string, string?> answer;
        if (Get("response_type") != "code")
            answer = new() { ["error"] = "unsupported_response_type", ["state"] = state };
        else if (Get("scope") is not { } scope)
            answer = new() { ["error"] = "invalid_scope", ["state"] = state };
        else if (Get("code_challenge") is not null && Get("code_challenge_method") != "S256")
            answer = new() { ["error"] = "invalid_request", ["error_description"] = "code_challenge_method must be S256", ["state"] = state };
        else if (Options.InteractiveConsent && !decided)
        {
            // A consent page must not be framed: a page around it could make the user click Accept unknowingly.
            ctx.Response.Headers.ContentSecurityPolicy = "frame-ancestors 'none'";
            ctx.Response.Headers.XFrameOptions = "DENY";
            await WriteAsync(ctx, 200, AtlassianConsentPage.Render(p, scope, Options), "text/html; charset=utf-8");
            return;
        }
        else if (Options.DenyConsent || Get("deny") == "1" || (decided && Get("decision") != "accept"))
            answer = new() { ["error"] = "access_denied", ["error_description"] = "User did not authorize the request", ["state"] = state };
        else
            answer = new() { ["code"] = _authority.IssueCode(ClientId, redirectUri, Options.GrantedScope?.Invoke(scope) ?? scope, Get("code_challenge")), ["state"] = state };

        // 303 after the consent form's POST, so the browser follows with a GET.
        ctx.Response.StatusCode = decided ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
        ctx.Response.Headers.Location = QueryHelpers.AddQueryString(redirectUri, answer);
    }

    private Task HandleAccessibleResourcesAsync(HttpContext ctx)
    {
        if (Authenticate(ctx) is not { } scope)
            return Unauthorized(ctx);
        if (Options.AccessibleResourcesBody is { } raw)
        {
            ctx.Response.ContentType = "application/json";
            return ctx.Response.Body.WriteAsync(raw).AsTask();
        }
        var granted = scope.Split(' ').Where(s => s != "offline_access").ToArray();
        var sites = new JsonArray();
        foreach (var site in Options.Sites)
        {
            sites.Add(new JsonObject
            {
                ["id"] = site.Id,
                ["name"] = site.Name,
                ["url"] = site.Url,
                ["scopes"] = new JsonArray([.. (site.Scopes ?? granted).Select(s => JsonValue.Create(s))]),
                ["avatarUrl"] = site.AvatarUrl,
            });
        }
        return WriteAsync(ctx, 200, sites.ToJsonString());
    }

    private Task HandleMeAsync(HttpContext ctx)
    {
        if (Authenticate(ctx) is not { } scope)
            return Unauthorized(ctx);
        if (!scope.Split(' ').Contains("read:me"))
            return WriteAsync(ctx, 403, """{"code":403,"message":"Unauthorized; scope does not match"}""");
        return WriteAsync(ctx, 200, new JsonObject
        {
            ["account_id"] = Options.AccountId,
            ["email"] = Options.Email,
            ["name"] = Options.DisplayName,
            ["nickname"] = Options.DisplayName.Split(' ')[0],
            ["account_status"] = "active",
        }.ToJsonString());
    }

    /// <summary>Echo of an API call through api.atlassian.com/ex/...: enough for a proxy to prove what it forwarded.</summary>
    private async Task HandleApiAsync(HttpContext ctx)
    {
        if (Authenticate(ctx) is null)
        {
            await Unauthorized(ctx);
            return;
        }
        var cloudId = (string)ctx.Request.RouteValues["cloudId"]!;
        if (!Options.Sites.Any(s => s.Id == cloudId))
        {
            await WriteAsync(ctx, 404, """{"code":404,"message":"Site not found"}""");
            return;
        }
        var body = await new StreamReader(ctx.Request.Body).ReadToEndAsync(ctx.RequestAborted);
        await WriteAsync(ctx, 200, new JsonObject
        {
            ["product"] = (string?)ctx.Request.RouteValues["product"],
            ["cloudId"] = cloudId,
            ["path"] = "/" + (string?)ctx.Request.RouteValues["rest"],
            ["method"] = ctx.Request.Method,
            ["query"] = ctx.Request.QueryString.Value?.TrimStart('?') ?? "",
            ["body"] = body.Length == 0 ? null : body,
        }.ToJsonString(Readable));
    }

    /// <summary>The granted scope of the request's bearer token, or null when it is missing or not valid.</summary>
    private string? Authenticate(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            return null;
        return _authority.ScopeOfAccessToken(header[prefix.Length..].Trim());
    }

    private static Task Unauthorized(HttpContext ctx)
    {
        ctx.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteAsync(ctx, 401, """{"code":401,"message":"Unauthorized"}""");
    }

    private static Task WriteAsync(HttpContext ctx, int status, string body, string contentType = "application/json")
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = contentType;
        return ctx.Response.WriteAsync(body);
    }

    /// <summary>Token-endpoint parameters from a JSON object or a form; null when the body is neither.</summary>
    private static async Task<Dictionary<string, string>?> ReadParamsAsync(HttpRequest request)
    {
        try
        {
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
                return form.ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal);
            }
            if (request.HasJsonContentType())
            {
                using var doc = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    return null;
                return doc.RootElement.EnumerateObject().ToDictionary(
                    prop => prop.Name,
                    prop => prop.Value.ValueKind == JsonValueKind.String ? prop.Value.GetString()! : prop.Value.GetRawText(),
                    StringComparer.Ordinal);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or IOException)
        {
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is null)
            return;
        await _stopping.CancelAsync(); // releases hung requests so shutdown does not wait for them
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
        _app = null;
    }
}
