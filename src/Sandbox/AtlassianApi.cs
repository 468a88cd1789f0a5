using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// The emulated Atlassian REST APIs behind <c>/ex/{product}/{cloudId}/…</c>: a few Confluence pages and Jira issues per
/// site, rate limiting (429 with <c>Retry-After</c> and <c>X-RateLimit-Reset</c>), access tokens it refuses as stale
/// (401) although the authorization server still knows them, a generated download of any size and an upload that
/// counts what it receives. Every call to these routes is recorded (method, path, headers) so a test can see what a
/// proxy sent. Other paths under <c>/ex/</c> fall through to the emulator's echo, unchanged.
/// </summary>
public sealed class AtlassianApi(Func<HttpContext, string?> authenticate, Func<IReadOnlyList<AtlassianSite>> sites, TimeProvider clock)
{
    public const int PagesPerSite = 3;

    private readonly ConcurrentDictionary<string, byte> _stale = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ApiCall> _calls = new();
    private int _rateLimited;
    private TimeSpan _retryAfter = TimeSpan.FromSeconds(1);
    private int _unauthorized;

    /// <summary>The most recent calls kept in <see cref="Calls"/>: a long-running sandbox or a benchmark must not grow without end.</summary>
    public const int MaxRecordedCalls = 10_000;

    /// <summary>Calls to these routes, in arrival order: the last <see cref="MaxRecordedCalls"/>.</summary>
    public IReadOnlyList<ApiCall> Calls => [.. _calls];

    /// <summary>401 answers given to tokens marked stale.</summary>
    public int StaleRefusals => Volatile.Read(ref _unauthorized);

    /// <summary>The API refuses this access token with 401 from now on, as Atlassian does for a token it revoked early.</summary>
    /// <param name="holdUntil">
    /// Hold the refusals until this many calls with a stale token wait (at most 10 s): every one of them has then been
    /// sent with the stale token before any caller can learn it is stale.
    /// </param>
    public void MarkStale(string accessToken, int holdUntil = 0)
    {
        _staleHold = holdUntil > 1 ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        _staleWaiting = 0;
        _staleHoldCount = holdUntil;
        _stale[accessToken] = 0;
    }

    private TaskCompletionSource? _staleHold;
    private int _staleWaiting;
    private int _staleHoldCount;

    /// <summary>The next <paramref name="calls"/> API calls answer 429 with <c>Retry-After</c> (whole seconds) and <c>X-RateLimit-Reset</c>.</summary>
    public void RateLimitNext(int calls, TimeSpan retryAfter)
    {
        _retryAfter = retryAfter;
        Interlocked.Exchange(ref _rateLimited, calls);
    }

    internal void Map(IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/ex").AddEndpointFilter(async (invocation, next) =>
        {
            var ctx = invocation.HttpContext;
            _calls.Enqueue(new ApiCall(clock.GetUtcNow(), ctx.Request.Method, ctx.Request.Path + ctx.Request.QueryString,
                ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            while (_calls.Count > MaxRecordedCalls && _calls.TryDequeue(out _))
            {
            }
            return await Gate(ctx) ?? await next(invocation);
        });
        api.MapGet("/confluence/{cloudId}/wiki/api/v2/pages", (string cloudId, int? limit) => Site(cloudId) is { } site
            ? Results.Json(new JsonObject { ["results"] = new JsonArray([.. Pages(site).Take(limit ?? 25)]), ["_links"] = new JsonObject() })
            : NotFound());
        api.MapGet("/confluence/{cloudId}/wiki/api/v2/pages/{id}", (string cloudId, string id) =>
            Site(cloudId) is { } site && Pages(site).FirstOrDefault(p => (string?)p["id"] == id) is { } page ? Results.Json(page) : NotFound());
        api.MapPost("/confluence/{cloudId}/wiki/api/v2/pages", async (string cloudId, HttpRequest request) =>
        {
            if (Site(cloudId) is null)
                return NotFound();
            var (bytes, hash) = await CountAsync(request.Body, request.HttpContext.RequestAborted);
            return Results.Json(new JsonObject { ["id"] = "2001", ["status"] = "current", ["received_bytes"] = bytes, ["received_sha256"] = hash, ["content_type"] = request.ContentType });
        });
        api.MapGet("/jira/{cloudId}/rest/api/3/search", (string cloudId) => Site(cloudId) is { } site
            ? Results.Json(new JsonObject { ["startAt"] = 0, ["total"] = PagesPerSite, ["issues"] = new JsonArray([.. Issues(site)]) })
            : NotFound());
        api.MapGet("/jira/{cloudId}/rest/api/3/issue/{key}", (string cloudId, string key) =>
            Site(cloudId) is { } site && Issues(site).FirstOrDefault(i => (string?)i["key"] == key) is { } issue ? Results.Json(issue) : NotFound());
        // A download of any size, generated as it is sent (never held in memory), with its length announced.
        api.MapGet("/confluence/{cloudId}/wiki/download/{bytes:long}", async (string cloudId, long bytes, HttpContext ctx) =>
        {
            if (Site(cloudId) is null)
            {
                await NotFound().ExecuteAsync(ctx);
                return;
            }
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.ContentLength = bytes;
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < chunk.Length; i++)
                chunk[i] = (byte)(i % 251);
            for (var left = bytes; left > 0; left -= chunk.Length)
                await ctx.Response.Body.WriteAsync(chunk.AsMemory(0, (int)Math.Min(left, chunk.Length)), ctx.RequestAborted);
        });
        // An upload of any size: counted and hashed as it arrives.
        api.MapMethods("/confluence/{cloudId}/wiki/upload", ["POST", "PUT"], async (string cloudId, HttpRequest request) =>
        {
            if (Site(cloudId) is null)
                return NotFound();
            var (bytes, hash) = await CountAsync(request.Body, request.HttpContext.RequestAborted);
            return Results.Json(new JsonObject { ["received_bytes"] = bytes, ["received_sha256"] = hash });
        });
        // Never answers (until the caller gives up or the emulator stops): a provider that hangs.
        api.MapGet("/{product}/{cloudId}/emulator/hang", async (HttpContext ctx) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            ctx.Abort();
        });
        // What the API received, for tests of what a proxy forwards (plus a cookie the proxy must not hand back).
        api.MapMethods("/{product}/{cloudId}/emulator/headers", ["GET", "POST"], (HttpContext ctx) =>
        {
            ctx.Response.Headers.Append("Set-Cookie", "atl_session=emulated; Path=/; HttpOnly");
            ctx.Response.Headers["X-Emulator-Answer"] = "headers";
            // Caching headers a shared cache would obey (a proxy must not relay them).
            ctx.Response.Headers.CacheControl = "public, max-age=86400";
            ctx.Response.Headers.Expires = "Thu, 01 Jan 2099 00:00:00 GMT";
            ctx.Response.Headers.Pragma = "cache";
            var headers = new JsonObject();
            foreach (var (name, value) in ctx.Request.Headers)
                headers[name.ToLowerInvariant()] = value.ToString();
            return Results.Json(new JsonObject { ["headers"] = headers });
        });
    }

    /// <summary>Rate limit and token checks shared by every API route; null lets the call through.</summary>
    private async Task<IResult?> Gate(HttpContext ctx)
    {
        if (TakeRateLimited())
        {
            var reset = clock.GetUtcNow() + _retryAfter;
            ctx.Response.Headers.RetryAfter = ((long)Math.Ceiling(_retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            ctx.Response.Headers["X-RateLimit-Reset"] = reset.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            return Results.Json(new JsonObject { ["code"] = 429, ["message"] = "Rate limit exceeded" }, statusCode: 429);
        }
        var header = ctx.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && _stale.ContainsKey(header["Bearer ".Length..].Trim()))
        {
            if (_staleHold is { } hold)
            {
                if (Interlocked.Increment(ref _staleWaiting) >= _staleHoldCount)
                    hold.TrySetResult();
                await hold.Task.WaitAsync(TimeSpan.FromSeconds(10), ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            Interlocked.Increment(ref _unauthorized);
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new JsonObject { ["code"] = 401, ["message"] = "Unauthorized" }, statusCode: 401);
        }
        if (authenticate(ctx) is null)
        {
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new JsonObject { ["code"] = 401, ["message"] = "Unauthorized" }, statusCode: 401);
        }
        return null;
    }

    private bool TakeRateLimited()
    {
        int left;
        while ((left = Volatile.Read(ref _rateLimited)) > 0)
        {
            if (Interlocked.CompareExchange(ref _rateLimited, left - 1, left) == left)
                return true;
        }
        return false;
    }

    private AtlassianSite? Site(string cloudId) => sites().FirstOrDefault(s => s.Id == cloudId);

    /// <summary>The site's pages; their titles name the site, so a test sees which cloudId answered.</summary>
    public static IEnumerable<JsonObject> Pages(AtlassianSite site) => Enumerable.Range(1, PagesPerSite).Select(n => new JsonObject
    {
        ["id"] = (1000 + n).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["status"] = "current",
        ["title"] = $"Page {n} of {site.Name}",
        ["spaceId"] = "65538",
        ["version"] = new JsonObject { ["number"] = 1 },
    });

    public static IEnumerable<JsonObject> Issues(AtlassianSite site) => Enumerable.Range(1, PagesPerSite).Select(n => new JsonObject
    {
        ["id"] = (10000 + n).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["key"] = $"{site.Name.ToUpperInvariant()}-{n}",
        ["fields"] = new JsonObject { ["summary"] = $"Issue {n} of {site.Name}" },
    });

    private static IResult NotFound() => Results.Json(new JsonObject { ["code"] = 404, ["message"] = "Not found" }, statusCode: 404);

    private static async Task<(long Bytes, string Sha256)> CountAsync(Stream body, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }
        return (total, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }
}

/// <summary>One call the emulated API received.</summary>
public sealed record ApiCall(DateTimeOffset At, string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers);
