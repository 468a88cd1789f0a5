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
}
