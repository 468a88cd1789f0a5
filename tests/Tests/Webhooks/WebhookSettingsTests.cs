using System.Net;
using System.Net.Http.Json;
using System.Text;
using ConnectionGrid.Tests.Infrastructure;
using ConnectionGrid.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>
/// The settings API without the operator's switch: only https URLs to public destinations are saved, a name that
/// resolves to the grid's own network is refused when a delivery connects, and every mistake is a JSON 4xx.
/// </summary>
public sealed class WebhookSettingsTests
{
    [Fact]
    public async Task Private_loopback_and_link_local_destinations_are_refused_at_save_and_after_dns_at_send()
    {
        // A public-looking name that resolves to loopback when a delivery connects (DNS rebinding), whatever this
        // machine's own name resolves to.
        const string rebound = "rebound.example.com";
        var resolver = new WebhookResolver((host, _) => Task.FromResult(host == rebound ? new[] { IPAddress.Loopback } : []));
        await using var grid = await GridCluster.StartAsync(configureSilo: silo => silo.Services.AddSingleton(resolver));
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();

        foreach (var url in new[]
        {
            receiver.Url, // http, and loopback
            $"https://127.0.0.1:{receiver.Port}/hook", "https://localhost/hook", "https://[::1]/hook", "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/hook", "https://192.168.1.10/hook", "https://172.16.0.1/hook", "https://[fd00::1]/hook", "https://[::ffff:127.0.0.1]/hook",
            "https://0.0.0.0/hook", "http://hooks.example.com/grid",
        })
        {
            await ExpectErrorAsync(await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { url } }), "invalid_webhook_url", url);
        }

        // A name is resolved when a delivery connects: this one resolves to loopback then, so nothing is sent.
        var ownName = $"https://{rebound}:{receiver.Port}/hook";
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { ownName } })).StatusCode);
        await grid.ConnectAsync(connectionId: "c-rebound");
        string? lastError = null;
        for (var i = 0; i < 200 && lastError is null; i++)
        {
            var log = (await (await client.GetAsync("webhooks/deliveries")).ReadJsonAsync())["data"]!.AsArray();
            lastError = log.Single()!["last_error"]?.GetValue<string>();
            await Task.Delay(50);
        }
        Assert.Equal("destination_refused", lastError);
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task Settings_mistakes_are_json_errors_and_nothing_is_saved()
    {
        await using var grid = await GridCluster.StartAsync();
        using var client = await grid.StartGatewayAsync();

        var empty = (await (await client.GetAsync("webhooks/settings")).ReadJsonAsync())["data"]!;
        Assert.Empty(empty["urls"]!.AsArray());
        Assert.Empty(empty["signing_secrets"]!.AsArray());

        var cases = new (string Body, string Code)[]
        {
            ("{}", "invalid_webhook_urls"),
            ("""{"urls":[]}""", "invalid_webhook_urls"),
            ("""{"urls":["https://a.example.com/1","https://a.example.com/2","https://a.example.com/3"]}""", "invalid_webhook_urls"),
            ("""{"urls":["https://a.example.com/1","https://a.example.com/1"]}""", "invalid_webhook_urls"),
            ("""{"urls":[null]}""", "invalid_webhook_urls"),
            ("""{"urls":["not a url"]}""", "invalid_webhook_url"),
            ("""{"urls":["/relative"]}""", "invalid_webhook_url"),
            ("""{"urls":["ftp://a.example.com/x"]}""", "invalid_webhook_url"),
            ("""{"urls":["https://user:pw@a.example.com/x"]}""", "invalid_webhook_url"),
            ("""{"urls":["https://a.example.com/x"],"events":[]}""", "invalid_webhook_events"),
            ("""{"urls":["https://a.example.com/x"],"events":["auth","connection.exploded"]}""", "invalid_webhook_events"),
            ("""{"urls":"https://a.example.com/x"}""", "invalid_body"),
            ("""{"urls":["https://a.example.com/x"],"events":"auth"}""", "invalid_body"),
        };
        foreach (var (body, code) in cases)
        {
            await ExpectErrorAsync(await client.PutAsync("webhooks/settings", new StringContent(body, Encoding.UTF8, "application/json")), code, body);
        }
        foreach (var query in new[] { "status=bogus", "limit=0", "limit=201", "cursor=whd_xyz" })
        {
            await ExpectErrorAsync(await client.GetAsync($"webhooks/deliveries?{query}"), "invalid_query_params", query);
        }
        var unknownRetry = await client.PostAsync("webhooks/deliveries/whd_0123456789abcdef/retry", null);
        Assert.Equal(HttpStatusCode.NotFound, unknownRetry.StatusCode);
        Assert.Equal("unknown_delivery", (await unknownRetry.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        var after = (await (await client.GetAsync("webhooks/settings")).ReadJsonAsync())["data"]!;
        Assert.Empty(after["urls"]!.AsArray());
        Assert.Empty(after["signing_secrets"]!.AsArray());

        // A valid one is saved with its filter, and the first signing secret is shown once.
        var saved = await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { "https://hooks.example.com/grid" }, events = new[] { "auth" } });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var secret = (await saved.ReadJsonAsync())["data"]!["signing_secret"]!["secret"]!.GetValue<string>();
        var read = await (await client.GetAsync("webhooks/settings")).Content.ReadAsStringAsync();
        Assert.Contains("https://hooks.example.com/grid", read);
        Assert.DoesNotContain(secret, read);
        Assert.Null((await (await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { "https://hooks.example.com/grid" } })).ReadJsonAsync())["data"]!["signing_secret"]);
    }

    private static async Task ExpectErrorAsync(HttpResponseMessage response, string code, string what)
    {
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)response.StatusCode}");
        var error = (await response.ReadJsonAsync())["error"]!;
        Assert.True(code == error["code"]!.GetValue<string>(), $"{what}: {error}");
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
    }
}
