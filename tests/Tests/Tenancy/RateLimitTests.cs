using System.Net;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>Per-tenant rate limits and the throttle on failed authentication, each in a grid process of its own.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task A_tenant_over_its_rate_gets_429_with_retry_after_and_other_tenants_are_unaffected()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:RateLimits:PerTenantPerSecond"] = "1",
            ["Grid:RateLimits:PerTenantBurst"] = "5",
        });
        await silo.StartAsync();
        using var busy = silo.CreateClient();
        using var quiet = silo.CreateClient(await silo.CreateTenantAsync("quiet"));

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 12; i++)
        {
            var response = await busy.GetAsync("integrations");
            statuses.Add(response.StatusCode);
            limited ??= response.StatusCode == HttpStatusCode.TooManyRequests ? response : null;
        }
        // The burst of 5 passes (plus at most what refilled meanwhile); the rest is refused.
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 5, 7);
        Assert.NotNull(limited);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("rate_limit_exceeded", (await limited.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        // Another tenant on the same grid still has its whole budget, and the operator API is not counted against tenants.
        Assert.Equal(HttpStatusCode.OK, (await quiet.GetAsync("integrations")).StatusCode);
        using var admin = silo.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("admin/tenants")).StatusCode);
    }

    [Fact]
    public async Task An_address_that_keeps_sending_invalid_keys_gets_429_while_valid_keys_from_it_keep_working()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string> { ["Grid:RateLimits:AuthFailuresPerMinute"] = "3" });
        await silo.StartAsync();
        using var guessing = silo.CreateClient("cg_sk_guess_0000000000000000000000000000");
        using var valid = silo.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await guessing.GetAsync("integrations")).StatusCode);
        }
        var throttled = await guessing.GetAsync("integrations");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        Assert.InRange(int.Parse(throttled.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        Assert.Equal("too_many_auth_failures", (await throttled.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        // The same address (think NAT, or an ingress) keeps working with valid keys: a worker still sending a key that
        // was just rotated out cannot lock out its tenant, other tenants or the operator.
        Assert.Equal(HttpStatusCode.OK, (await valid.GetAsync("integrations")).StatusCode);
        using var admin = silo.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("admin/tenants")).StatusCode);
        // A wrong operator key from it is throttled like a wrong tenant key; no credentials at all is not a failure.
        using var wrongAdmin = silo.CreateClient("cg_admin_wrong_operator_key_0123456789abcdef");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await wrongAdmin.GetAsync("admin/tenants")).StatusCode);
        using var anonymous = silo.CreateClient(secretKey: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("integrations")).StatusCode);
    }

    [Fact]
    public async Task Invalid_keys_write_no_log_line_per_request_and_a_throttled_address_gets_no_lookup()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:RateLimits:AuthFailuresPerMinute"] = "5",
            // The throttle's own per-request lines (Debug) are switched on to see which path each request took.
            ["Logging:LogLevel:ConnectionGrid.Gateway.RateLimiting.AuthFailureThrottle"] = "Debug",
        });
        await silo.StartAsync();
        using var guessing = silo.CreateClient("cg_sk_guess_0000000000000000000000000000");
        using var anonymous = silo.CreateClient(secretKey: null);
        using var wrongAdmin = silo.CreateClient("cg_admin_wrong_operator_key_0123456789abcdef");
        var before = silo.Output.Length;

        var statuses = new List<HttpStatusCode>();
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 100; i++)
        {
            statuses.Add((await guessing.GetAsync("integrations")).StatusCode);
            statuses.Add((await anonymous.GetAsync("integrations")).StatusCode);
            statuses.Add((await wrongAdmin.GetAsync("admin/tenants")).StatusCode);
        }
        var seconds = elapsed.Elapsed.TotalSeconds;
        await Task.Delay(500); // let the process flush its console
        var written = silo.Output[before..];

        // Five invalid keys are looked up and refused (401); every later key from the address is answered 429, and only
        // within the throttled address's lookup budget (a burst of 5, then 1 a second) does one still cost a lookup.
        Assert.Equal(5, Occurrences(written, "an invalid key from"));
        Assert.Equal(195, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(195, Occurrences(written, "answered 429: the address sent too many invalid keys"));
        Assert.InRange(Occurrences(written, "(looked up: True)"), 0, 5 + (int)Math.Ceiling(seconds));
        // Nothing else per request at the default level: no framework line for challenges or failed authorization.
        Assert.Equal(0, Occurrences(written, "was challenged"));
        Assert.Equal(0, Occurrences(written, "was not authenticated"));
        Assert.Equal(0, Occurrences(written, "Authorization failed"));
        var lines = written.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length <= 2 * 200 + 4, $"{lines.Length} lines for 300 requests without a valid key");
    }

    private static int Occurrences(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
