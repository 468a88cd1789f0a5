using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// A hostile or broken token endpoint, one answer per case, against the real grid (SQLite storage, the HTTP API on
/// the test's clock): whatever the provider sends, the grid classifies it as the README says (a transient failure backs
/// off with <c>retry_not_before</c> and <c>refresh_failing</c>; a dead grant is <c>reauth_required</c>), never answers
/// 500, never calls the provider in a loop, and never loses a refresh token it was given.
/// </summary>
public sealed partial class HostileProviderTests
{
    private enum Expect
    {
        /// <summary>The answer carries usable tokens: they are taken (the provider has rotated).</summary>
        Accepted,
        /// <summary>A transient failure: backoff, and the connection recovers after it.</summary>
        Backoff,
        /// <summary>The provider's word that the grant is dead.</summary>
        Reauth,
    }

    /// <param name="ErrorCode">The lifecycle's <c>last_error.code</c> after a failure.</param>
    /// <param name="NextRefresh">How the emulator judges the refresh token the grid presents next: <c>rotated</c> when
    /// it is the one the provider issued last, <c>reused_within_leeway</c> when the provider rotated but its answer lost
    /// the new token (Atlassian accepts the previous one for 10 minutes).</param>
    /// <param name="ExpiresIn">For accepted answers: the lifetime the grid must have taken, in seconds.</param>
    private sealed record Case(string Name, Fault Fault, Expect Expect, string? ErrorCode = null, string NextRefresh = "rotated", int ExpiresIn = 3600);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>The real token response with <paramref name="extra"/> (raw bytes, already starting with a comma) before its closing brace.</summary>
    private static Func<string, byte[]> Append(byte[] extra) => body => [.. Utf8(body[..^1]), .. extra, (byte)'}'];

    /// <summary>The real token response (its tokens first) grown to exactly <paramref name="totalBytes"/> by a last, padding member.</summary>
    private static Func<string, byte[]> PaddedTo(int totalBytes, Func<string, byte[]>? first = null) => body =>
    {
        var head = first?.Invoke(body) ?? Utf8(body);
        byte[] start = [.. head[..^1], .. Utf8(",\"padding\":\"")];
        return [.. start, .. Enumerable.Repeat((byte)'x', totalBytes - start.Length - 2), (byte)'"', (byte)'}'];
    };

    /// <summary>The real token response without its closing brace and with a comma: more was to come.</summary>
    private static Func<string, byte[]> Unfinished(Func<string, byte[]>? first = null) => body =>
    {
        var head = first?.Invoke(body) ?? Utf8(body);
        return [.. head[..^1], (byte)','];
    };

    private static Func<string, byte[]> Without(string field) => body =>
    {
        var json = JsonNode.Parse(body)!.AsObject();
        json.Remove(field);
        return Utf8(json.ToJsonString());
    };

    private static Func<string, byte[]> ExpiresIn(string value) => body => Utf8(ExpiresInPattern().Replace(body, "\"expires_in\":" + value));

    [GeneratedRegex("\"expires_in\":\\d+")]
    private static partial Regex ExpiresInPattern();

    private static Case[] Cases(int redirectPort) =>
    [
        // Answers that carry usable tokens: the provider has rotated, so the grid must take them whatever else is odd.
        new("duplicate keys (last wins)", Fault.RewriteAfterRotation(body =>
            Utf8("{\"access_token\":\"stale\",\"token_type\":\"x\",\"scope\":1,\"expires_in\":5," + body[1..])), Expect.Accepted),
        new("invalid UTF-8 in an extra field", Fault.RewriteAfterRotation(Append([.. Utf8(",\"note\":\""), 0xC3, 0x28, 0xFF, 0xED, 0xA0, 0x80, (byte)'"'])), Expect.Accepted),
        new("unpaired surrogate escapes in extra fields", Fault.RewriteAfterRotation(Append(Utf8(",\"note\":\"\\ud800\",\"\\udc00\":\"x\",\"list\":[\"\\udfff\",1]"))), Expect.Accepted),
        new("deep nesting in an extra field", Fault.RewriteAfterRotation(Append(Utf8(",\"deep\":" + new string('[', 40) + new string(']', 40)))), Expect.Accepted),
        new("an oversize extra field", Fault.RewriteAfterRotation(Append(Utf8(",\"padding\":\"" + new string('x', 40_000) + "\""))), Expect.Accepted),
        new("expires_in negative", Fault.RewriteAfterRotation(ExpiresIn("-3600")), Expect.Accepted),
        new("expires_in huge", Fault.RewriteAfterRotation(ExpiresIn("1e300")), Expect.Accepted),
        new("expires_in beyond int", Fault.RewriteAfterRotation(ExpiresIn("99999999999999")), Expect.Accepted),
        new("expires_in a string", Fault.RewriteAfterRotation(ExpiresIn("\"1800\"")), Expect.Accepted, ExpiresIn: 1800),
        new("expires_in a float", Fault.RewriteAfterRotation(ExpiresIn("1800.9")), Expect.Accepted, ExpiresIn: 1800),
        new("expires_in garbage", Fault.RewriteAfterRotation(ExpiresIn("{\"a\":[]}")), Expect.Accepted),
        new("wrong content-type", Fault.RewriteAfterRotation(Utf8, "text/html; charset=iso-8859-1"), Expect.Accepted),
        new("no content-type", Fault.RewriteAfterRotation(Utf8, contentType: null), Expect.Accepted),
        new("cut off after both tokens", Fault.RewriteAfterRotation(body => Utf8(body[..^1])), Expect.Accepted),
        // Over 64 KiB or never finished, but the tokens came first: what arrived is read like a truncated body.
        new("67,955 bytes with Content-Length, the tokens first", Fault.RewriteAfterRotation(PaddedTo(67_955), sendContentLength: true), Expect.Accepted),
        new("10 MB with Content-Length, the tokens first", Fault.RewriteAfterRotation(PaddedTo(10 * 1024 * 1024), sendContentLength: true), Expect.Accepted),
        new("10 MB chunked, the tokens first", Fault.RewriteAfterRotation(PaddedTo(10 * 1024 * 1024)), Expect.Accepted),
        new("both tokens, then a stall past the deadline", Fault.StallAfterRotation(Unfinished()), Expect.Accepted),
        // No refresh_token: the grid keeps the one it has; the provider rotated, so it is the previous one now.
        new("no refresh_token", Fault.RewriteAfterRotation(Without("refresh_token")), Expect.Accepted, NextRefresh: "reused_within_leeway"),

        // Answers without usable tokens: transient failures.
        new("no access_token (the new refresh token is kept)", Fault.RewriteAfterRotation(Without("access_token")), Expect.Backoff, "provider_malformed_response"),
        new("over 64 KiB with no access_token (the new refresh token is kept)", Fault.RewriteAfterRotation(PaddedTo(100_000, Without("access_token")), sendContentLength: true),
            Expect.Backoff, "provider_response_too_large"),
        new("a stall with no access_token (the new refresh token is kept)", Fault.StallAfterRotation(Unfinished(Without("access_token"))), Expect.Backoff, "provider_timeout"),
        new("truncated JSON", Fault.RewriteAfterRotation(body => Utf8(body[..(body.IndexOf("\"refresh_token\"", StringComparison.Ordinal) - 3)])),
            Expect.Backoff, "provider_malformed_response", NextRefresh: "reused_within_leeway"),
        new("an HTML page with 200", Fault.Raw(200, Utf8("<!doctype html><html><body>Sign in</body></html>"), "text/html"), Expect.Backoff, "provider_malformed_response"),
        new("200 with an error body", Fault.Raw(200, Utf8("{\"error\":\"invalid_grant\",\"error_description\":\"nope\"}")), Expect.Backoff, "provider_malformed_response"),
        new("an empty object", Fault.Raw(200, Utf8("{}")), Expect.Backoff, "provider_malformed_response"),
        new("a JSON array", Fault.Raw(200, Utf8("[{\"access_token\":\"a\",\"refresh_token\":\"r\"}]")), Expect.Backoff, "provider_malformed_response"),
        new("null", Fault.Raw(200, Utf8("null")), Expect.Backoff, "provider_malformed_response"),
        new("an empty body", Fault.Raw(200, [], contentType: null), Expect.Backoff, "provider_malformed_response"),
        new("invalid UTF-8 everywhere", Fault.Raw(200, [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0xC3, 0x28, 0x7D]), Expect.Backoff, "provider_malformed_response"),
        new("a 10 MB body", Fault.Raw(200, Utf8("{\"access_token\":\"" + new string('a', 10 * 1024 * 1024) + "\"}")), Expect.Backoff, "provider_response_too_large"),
        new("a slow drip past the provider timeout", Fault.Drip(TimeSpan.FromMilliseconds(100)), Expect.Backoff, "provider_timeout"),
        new("a redirect to another listener", Fault.Raw(302, Utf8("{}"), headers: new Dictionary<string, string> { ["Location"] = $"http://127.0.0.1:{redirectPort}/oauth/token" }),
            Expect.Backoff, "provider_error"),
        new("5xx with HTML", Fault.Raw(500, Utf8("<html><h1>Internal Server Error</h1></html>"), "text/html"), Expect.Backoff, "provider_unavailable"),
        new("429 with a garbage Retry-After", Fault.Raw(429, Utf8("<html>slow down</html>"), "text/html", new Dictionary<string, string> { ["Retry-After"] = "soon, maybe" }),
            Expect.Backoff, "provider_rate_limited"),
        new("4xx with a surrogate in the description", Fault.Raw(400, Utf8("{\"error\":\"invalid_request\",\"error_description\":\"\\ud800\"}")), Expect.Backoff, "provider_error"),

        // The provider's word that the grant is dead, however oddly phrased.
        new("invalid_grant with duplicate keys", Fault.Raw(403, Utf8("{\"error\":\"invalid_grant\",\"error\":\"invalid_grant\",\"error_description\":\"\\ud800\"}")), Expect.Reauth, "invalid_grant"),
    ];

    private static string PathOf(string connectionId) => $"connections/{connectionId}?provider_config_key=confluence";

    [Fact]
    public async Task Every_hostile_token_response_is_classified_without_a_500_a_loop_or_a_lost_refresh_token()
    {
        await using var grid = await GridCluster.StartAsync(settings =>
        {
            // Short, so the drip case is quick; the emulator answers within milliseconds otherwise.
            settings["Grid:Refresh:ProviderTimeout"] = "00:00:02";
            settings["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00";
            // No proactive rotation of the imports while the test moves the clock.
            settings["Grid:Refresh:RotateImportedWithin"] = "30.00:00:00";
        });
        using var client = await grid.StartGatewayAsync();
        // A redirect's target: the grid must never connect to it (it would re-post the client secret and refresh token).
        using var elsewhere = new TcpListener(IPAddress.Loopback, 0);
        elsewhere.Start();
        var failures = new List<string>();

        var cases = Cases(((IPEndPoint)elsewhere.LocalEndpoint).Port);
        for (var i = 0; i < cases.Length; i++)
        {
            var c = cases[i];
            var problems = new List<string>();
            try
            {
                await RunCaseAsync(grid, client, $"hostile-{i}", c, problems);
            }
            catch (Exception exception)
            {
                problems.Add($"threw {exception.GetType().Name}: {Shorten(exception.Message)}");
            }
            failures.AddRange(problems.Select(p => $"{c.Name}: {p}"));
            Assert.Equal(0, grid.Emulator.PendingFaults);
        }

        Assert.False(elsewhere.Pending(), "the grid followed a redirect");
        Assert.Equal(0, grid.Emulator.Breaches);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task RunCaseAsync(GridCluster grid, HttpClient client, string connectionId, Case c, List<string> problems)
    {
        var (grain, _) = await grid.ConnectAsync(connectionId: connectionId, expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        var calls = grid.Emulator.Ledger.Count;
        grid.Emulator.Enqueue(c.Fault);
        var refreshedAt = grid.Clock.GetUtcNow();

        var first = await client.GetAsync(PathOf(connectionId));
        var firstBody = await first.Content.ReadAsStringAsync();
        var firstAnswer = Shorten(firstBody);
        var madeCalls = grid.Emulator.Ledger.Count - calls;
        if (madeCalls is < 1 or > 3)
        {
            problems.Add($"{madeCalls} token-endpoint calls for one refresh");
        }
        calls = grid.Emulator.Ledger.Count;
        var view = (await grain.Peek())!;

        switch (c.Expect)
        {
            case Expect.Accepted:
                Check(problems, first.StatusCode == HttpStatusCode.OK, $"answered {(int)first.StatusCode} {firstAnswer}");
                if (first.StatusCode != HttpStatusCode.OK)
                {
                    return;
                }
                var json = JsonNode.Parse(firstBody)!;
                var accessToken = json["credentials"]!["access_token"]!.GetValue<string>();
                Check(problems, grid.Emulator.IsValidAccessToken(accessToken), "handed out an access token the provider did not issue");
                Check(problems, json["lifecycle"]!["status"]!.GetValue<string>() == "active", "not active");
                Check(problems, view.Credentials.ExpiresAt == refreshedAt.AddSeconds(c.ExpiresIn), $"expires_at {view.Credentials.ExpiresAt:O}, expected {refreshedAt.AddSeconds(c.ExpiresIn):O}");
                Check(problems, json["credentials"]!["raw"] is JsonObject raw && raw["access_token"]?.GetValue<string>() == accessToken, "raw lacks the access token");
                // What is kept of a provider's answer is bounded (16 KiB).
                Check(problems, Encoding.UTF8.GetByteCount(json["credentials"]!["raw"]?.ToJsonString() ?? "") <= 16 * 1024, "raw is larger than 16 KiB");
                // What was stored reads back, and a sane expiry means no refresh on every call.
                for (var i = 0; i < 5; i++)
                {
                    var again = await client.GetAsync(PathOf(connectionId));
                    Check(problems, again.StatusCode == HttpStatusCode.OK, $"a later GET answered {(int)again.StatusCode} {Shorten(await again.Content.ReadAsStringAsync())}");
                }
                Check(problems, grid.Emulator.Ledger.Count == calls, "the provider was called again for a fresh token");
                await ExpectNextRefreshAsync(grid, client, connectionId, c, calls, problems);
                break;

            case Expect.Backoff:
                Check(problems, first.StatusCode == HttpStatusCode.FailedDependency && firstBody.Contains("\"connection_refresh_backoff\""),
                    $"answered {(int)first.StatusCode} {firstAnswer}");
                Check(problems, first.Headers.RetryAfter is not null, "no Retry-After");
                Check(problems, view.Lifecycle.Status == ConnectionStatus.RefreshFailing, $"status {view.Lifecycle.Status}");
                Check(problems, view.Lifecycle.LastError?.Code == c.ErrorCode, $"last_error {view.Lifecycle.LastError?.Code}");
                // MinBackoff (30 s) with its ±20 % jitter: a garbage Retry-After must not stretch it, nothing may shorten it.
                var wait = view.Lifecycle.RetryNotBefore - refreshedAt;
                Check(problems, wait >= TimeSpan.FromSeconds(24) && wait <= TimeSpan.FromSeconds(36), $"retry_not_before is {wait} away");
                await ExpectNoMoreCallsAsync(grid, client, connectionId, "connection_refresh_backoff", calls, problems);

                grid.Clock.Advance(TimeSpan.FromMinutes(1));
                await ExpectNextRefreshAsync(grid, client, connectionId, c, calls, problems);
                break;

            case Expect.Reauth:
                Check(problems, first.StatusCode == HttpStatusCode.FailedDependency && firstBody.Contains("\"connection_reauth_required\""),
                    $"answered {(int)first.StatusCode} {firstAnswer}");
                Check(problems, view.Lifecycle.Status == ConnectionStatus.ReauthRequired, $"status {view.Lifecycle.Status}");
                Check(problems, view.Lifecycle.LastError?.Code == c.ErrorCode, $"last_error {view.Lifecycle.LastError?.Code}");
                await ExpectNoMoreCallsAsync(grid, client, connectionId, "connection_reauth_required", calls, problems);
                grid.Clock.Advance(TimeSpan.FromMinutes(1));
                await ExpectNoMoreCallsAsync(grid, client, connectionId, "connection_reauth_required", calls, problems);
                break;
        }
    }

    /// <summary>Ten calls (half of them forcing a refresh) while the connection cannot refresh: the same error, no provider call.</summary>
    private static async Task ExpectNoMoreCallsAsync(GridCluster grid, HttpClient client, string connectionId, string code, int calls, List<string> problems)
    {
        for (var i = 0; i < 10; i++)
        {
            var again = await client.GetAsync(PathOf(connectionId) + (i % 2 == 0 ? "&force_refresh=true" : ""));
            var body = await again.Content.ReadAsStringAsync();
            if (again.StatusCode != HttpStatusCode.FailedDependency || !body.Contains($"\"{code}\""))
            {
                problems.Add($"call {i} answered {(int)again.StatusCode} {Shorten(body)}");
                break;
            }
        }
        Check(problems, grid.Emulator.Ledger.Count == calls, $"{grid.Emulator.Ledger.Count - calls} more token-endpoint calls while it could not refresh");
    }

    /// <summary>
    /// The next refresh (the first token-endpoint call from ledger entry <paramref name="since"/> on: a forced one, or a
    /// reminder's once the clock passed the backoff) presents the refresh token the grid was given, and the connection
    /// works again.
    /// </summary>
    private static async Task ExpectNextRefreshAsync(GridCluster grid, HttpClient client, string connectionId, Case c, int since, List<string> problems)
    {
        var next = await client.GetAsync(PathOf(connectionId) + "&force_refresh=true");
        var body = await next.Content.ReadAsStringAsync();
        Check(problems, next.StatusCode == HttpStatusCode.OK, $"the next refresh answered {(int)next.StatusCode} {Shorten(body)}");
        var ledger = grid.Emulator.Ledger;
        if (ledger.Count <= since)
        {
            problems.Add("no refresh after the first answer");
        }
        else
        {
            Check(problems, ledger[since].Outcome == c.NextRefresh, $"the next refresh was judged '{ledger[since].Outcome}', expected '{c.NextRefresh}'");
        }
        if (next.StatusCode == HttpStatusCode.OK)
        {
            var accessToken = JsonNode.Parse(body)!["credentials"]!["access_token"]!.GetValue<string>();
            Check(problems, grid.Emulator.IsValidAccessToken(accessToken), "the access token after the next refresh is not valid");
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private static void Check(List<string> problems, bool condition, string problem)
    {
        if (!condition)
        {
            problems.Add(problem);
        }
    }
}
