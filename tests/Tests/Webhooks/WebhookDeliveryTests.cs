using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>
/// Webhooks end to end on a test cluster (real SQLite, real reminders on a fake clock, the emulated Atlassian) with a
/// real receiver on loopback that checks every signature: the events a connection's life produces, their order and
/// delivery through an outage of the receiver, and signing-secret rotation.
/// </summary>
public sealed class WebhookDeliveryTests
{
    internal static void AllowLoopback(Dictionary<string, string?> settings) => settings["Grid:Webhooks:AllowPrivateNetworks"] = "true";

    /// <summary>Points the tenant's webhooks at the receiver and gives the receiver the signing secret.</summary>
    internal static async Task<string> ConfigureAsync(HttpClient client, WebhookReceiver receiver)
    {
        var response = await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { receiver.Url } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = (await response.ReadJsonAsync())["data"]!;
        Assert.Equal(receiver.Url, data["urls"]![0]!.GetValue<string>());
        var secret = data["signing_secret"]!["secret"]!.GetValue<string>();
        receiver.Secrets = [secret];
        return secret;
    }

    private static async Task<JsonArray> DeliveriesAsync(HttpClient client, string query = "")
    {
        var response = await client.GetAsync("webhooks/deliveries?limit=200" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!.AsArray();
    }

    [Fact]
    public async Task Import_then_a_revoked_grant_send_creation_one_refresh_failure_and_reauth_required_all_signed()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);

        var (grain, tokens) = await grid.ConnectAsync(connectionId: "c-revoked");
        Assert.True(await receiver.WaitForAsync(r => r.Count >= 1));
        var creation = receiver.Received[0];
        Assert.True(creation.SignatureValid, creation.RawBody);
        Assert.Equal("nango", creation.Body["from"]!.GetValue<string>());
        Assert.Equal("auth", creation.Type);
        Assert.Equal("creation", creation.Body["operation"]!.GetValue<string>());
        Assert.True(creation.Body["success"]!.GetValue<bool>());
        Assert.Equal("c-revoked", creation.ConnectionId);
        Assert.Equal("confluence", creation.Body["providerConfigKey"]!.GetValue<string>());
        Assert.Equal("confluence", creation.Body["provider"]!.GetValue<string>());
        Assert.Equal("OAUTH2", creation.Body["authMode"]!.GetValue<string>());
        Assert.StartsWith("whd_", creation.Id);
        Assert.Equal(grid.Clock.GetUtcNow(), creation.Body["timestamp"]!.GetValue<DateTimeOffset>(), TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(tokens.AccessToken, creation.RawBody);

        grid.Emulator.RevokeFamilyOf(tokens.RefreshToken);
        var first = await grain.GetWithToken(forceRefresh: true);
        Assert.Equal("connection_reauth_required", first.Problem?.Code);
        var again = await grain.GetWithToken(forceRefresh: true);
        Assert.Equal("connection_reauth_required", again.Problem?.Code);

        // Stored before the calls returned: the log already holds them, whatever the receiver has seen yet.
        var log = await DeliveriesAsync(client);
        Assert.Equal(["connection.reauth_required", "auth", "auth"], log.Select(d => d!["event"]!.GetValue<string>()));
        Assert.True(await receiver.WaitForAsync(r => r.Count >= 3));
        var received = receiver.Received;
        Assert.All(received, r => Assert.True(r.SignatureValid, r.RawBody));
        Assert.Equal(3, received.Select(r => r.Id).Distinct().Count());
        var refresh = received[1];
        Assert.Equal("auth", refresh.Type);
        Assert.Equal("refresh", refresh.Body["operation"]!.GetValue<string>());
        Assert.False(refresh.Body["success"]!.GetValue<bool>());
        var code = refresh.Body["error"]!["type"]!.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(code));
        var reauth = received[2];
        Assert.Equal("connection.reauth_required", reauth.Type);
        Assert.Equal(code, reauth.Body["error"]!["type"]!.GetValue<string>());
        Assert.Equal("c-revoked", reauth.ConnectionId);
    }

    [Fact]
    public async Task A_provider_outage_sends_one_refresh_failure_then_recovered()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        var (grain, _) = await grid.ConnectAsync(connectionId: "c-outage");

        // Three failing refreshes in a row (500 is not replayed by the token client), then the provider is back.
        for (var i = 0; i < 3; i++)
        {
            grid.Emulator.Enqueue(Fault.Status(500));
        }
        var failing = await grain.GetWithToken(forceRefresh: true);
        Assert.True(failing.Succeeded); // the token still works: served while backing off
        Assert.Equal(ConnectionStatus.RefreshFailing, failing.Value!.Lifecycle.Status);
        for (var i = 0; i < 12 && (await grain.Peek())!.Lifecycle.Status != ConnectionStatus.Active; i++)
        {
            await grid.AdvanceAsync(TimeSpan.FromMinutes(30), steps: 30);
            await grain.GetWithToken(forceRefresh: false);
        }
        Assert.Equal(ConnectionStatus.Active, (await grain.Peek())!.Lifecycle.Status);
        Assert.Equal(0, grid.Emulator.PendingFaults);

        Assert.True(await receiver.WaitForAsync(r => r.Any(x => x.Type == "connection.recovered")));
        var types = receiver.Delivered.Select(r => r.Type == "auth" ? "auth:" + r.Body["operation"]!.GetValue<string>() : r.Type).ToList();
        Assert.Equal(["auth:creation", "auth:refresh", "connection.recovered"], types);
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid, r.RawBody));
    }

    [Fact]
    public async Task A_receiver_down_for_a_while_gets_every_event_afterwards_in_order_per_connection()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        receiver.Mode = ReceiverMode.Down;

        var (a, aTokens) = await grid.ConnectAsync(connectionId: "c-a");
        var (b, _) = await grid.ConnectAsync(connectionId: "c-b");
        grid.Emulator.RevokeFamilyOf(aTokens.RefreshToken);
        await a.GetWithToken(forceRefresh: true);
        Assert.True(await b.Delete(announce: true));
        var recorded = (await DeliveriesAsync(client)).Select(d => d!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, recorded.Count); // a: creation, refresh failure, reauth_required; b: creation, deleted

        // The grid's time moves a minute at a time with the receiver answering 503, until the head of each connection
        // (c-a's creation, c-b's creation) was retried several times: retried, never accepted, the rest held back.
        var started = grid.Clock.GetUtcNow();
        Assert.True(await receiver.WaitForAsync(r => r.GroupBy(x => x.Id).Count(g => g.Count() >= 3) >= 2, TimeSpan.FromSeconds(60),
            async () => { grid.Clock.Advance(TimeSpan.FromMinutes(1)); await Task.Delay(10); }),
            $"not retried: {receiver.Received.Count} requests");
        Assert.True(grid.Clock.GetUtcNow() - started >= TimeSpan.FromSeconds(90)); // two backoffs (30 s, 60 s) passed
        Assert.Equal(2, receiver.Received.Select(r => r.Id).Distinct().Count());
        Assert.Empty(receiver.Delivered);
        Assert.Equal(5, (await DeliveriesAsync(client, "&status=pending")).Count);

        receiver.Mode = ReceiverMode.Up;
        var delivered = await receiver.WaitForAsync(r => r.Where(x => x.AnsweredStatus == 200).Select(x => x.Id).Distinct().Count() == 5,
            TimeSpan.FromSeconds(60), async () => { grid.Clock.Advance(TimeSpan.FromMinutes(1)); await Task.Delay(40); });
        Assert.True(delivered, $"delivered {receiver.Delivered.Count} of 5");

        Assert.Equal(recorded, receiver.Delivered.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid, r.RawBody));
        foreach (var connection in new[] { "c-a", "c-b" })
        {
            // Every request for one connection, failed ones included: never a later event before an earlier one was accepted.
            var ids = receiver.Received.Where(r => r.ConnectionId == connection).Select(r => r.Id).ToList();
            Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        }
        var log = await DeliveriesAsync(client, "&status=delivered");
        Assert.Equal(5, log.Count);
        Assert.Contains(log, d => d!["attempts"]!.GetValue<int>() > 1);
    }

    [Fact]
    public async Task During_a_rotation_each_valid_secret_signs_and_a_retired_one_stops()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        var old = await ConfigureAsync(client, receiver);

        var created = await client.PostAsync("webhooks/settings/signing-secrets", null);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var fresh = (await created.ReadJsonAsync())["data"]!;
        var freshSecret = fresh["secret"]!.GetValue<string>();
        Assert.StartsWith("cg_whsec_", freshSecret);
        var settings = (await (await client.GetAsync("webhooks/settings")).ReadJsonAsync())["data"]!;
        Assert.Equal(2, settings["signing_secrets"]!.AsArray().Count);
        Assert.DoesNotContain(freshSecret, settings.ToJsonString());
        Assert.DoesNotContain(old, settings.ToJsonString());

        await grid.ConnectAsync(connectionId: "c-1");
        Assert.True(await receiver.WaitForAsync(r => r.Count >= 1));
        var both = receiver.Received[^1];
        Assert.Equal(2, both.Signatures.Count);
        receiver.Secrets = [old];
        Assert.True(Verify(receiver, both));
        receiver.Secrets = [freshSecret];
        Assert.True(Verify(receiver, both));

        // After the grace period (24 h) the old secret no longer signs.
        grid.Clock.Advance(TimeSpan.FromHours(25));
        await grid.ConnectAsync(connectionId: "c-2");
        Assert.True(await receiver.WaitForAsync(r => r.Count >= 2));
        var one = receiver.Received[^1];
        Assert.Single(one.Signatures);
        receiver.Secrets = [old];
        Assert.False(Verify(receiver, one));
        receiver.Secrets = [freshSecret];
        Assert.True(Verify(receiver, one));

        // The only valid secret stays (deliveries are never unsigned) until a newer one exists.
        var freshUrl = $"webhooks/settings/signing-secrets/{fresh["id"]!.GetValue<string>()}";
        var refused = await client.DeleteAsync(freshUrl);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("last_signing_secret", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("webhooks/settings/signing-secrets", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(freshUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync(freshUrl)).StatusCode);
    }

    [Fact]
    public async Task The_secret_in_use_cannot_be_deleted_while_the_others_only_have_their_grace_period_left()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        var first = (await (await client.GetAsync("webhooks/settings")).ReadJsonAsync())["data"]!["signing_secrets"]![0]!["id"]!.GetValue<string>();
        var created = (await (await client.PostAsync("webhooks/settings/signing-secrets", null)).ReadJsonAsync())["data"]!;
        var second = created["id"]!.GetValue<string>();
        receiver.Secrets = [created["secret"]!.GetValue<string>()];

        // The first has 24 h left: deleting the second would leave nothing to sign with after that.
        var refused = await client.DeleteAsync($"webhooks/settings/signing-secrets/{second}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("last_signing_secret", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"webhooks/settings/signing-secrets/{first}")).StatusCode);

        await grid.ConnectAsync(connectionId: "c-1");
        Assert.True(await receiver.WaitForAsync(r => r.Count >= 1));
        Assert.Single(receiver.Received[0].Signatures);
        Assert.True(receiver.Received[0].SignatureValid);
    }

    [Fact]
    public async Task A_full_outbox_keeps_what_it_holds_in_order_and_drops_and_counts_new_events()
    {
        var logs = new DropLogs();
        await using var grid = await GridCluster.StartAsync(settings =>
        {
            AllowLoopback(settings);
            settings["Grid:Webhooks:MaxPending"] = "10";
        }, configureSilo: silo => silo.Services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        receiver.Mode = ReceiverMode.Down;

        for (var i = 0; i < 13; i++)
        {
            await grid.ConnectAsync(connectionId: $"c-{i:00}");
        }
        var settings = (await (await client.GetAsync("webhooks/settings")).ReadJsonAsync())["data"]!;
        Assert.Equal(10, settings["pending_deliveries"]!.GetValue<int>());
        Assert.Equal(3, settings["dropped_events"]!.GetValue<long>());
        Assert.Equal(1, logs.Count); // one summary a minute, not a line per dropped event (the clock stood still)

        receiver.Mode = ReceiverMode.Up;
        Assert.True(await receiver.WaitForAsync(r => r.Where(x => x.AnsweredStatus == 200).Select(x => x.Id).Distinct().Count() == 10,
            TimeSpan.FromSeconds(60), async () => { grid.Clock.Advance(TimeSpan.FromMinutes(1)); await Task.Delay(40); }));
        // The first ten connections' events, none of the last three's.
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"c-{i:00}"), receiver.Delivered.Select(r => r.ConnectionId!).Order());
    }

    [Fact]
    public async Task Replacing_the_urls_fails_the_pending_deliveries_to_a_removed_url()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var next = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        receiver.Mode = ReceiverMode.Down;
        await grid.ConnectAsync(connectionId: "c-1");
        Assert.Single(await DeliveriesAsync(client, "&status=pending"));

        var put = await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { next.Url } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(0, (await put.ReadJsonAsync())["data"]!["pending_deliveries"]!.GetValue<int>());
        var failed = Assert.Single(await DeliveriesAsync(client, "&status=failed"))!;
        Assert.Equal(receiver.Url, failed["url"]!.GetValue<string>());
        Assert.Equal("url_removed", failed["last_error"]!.GetValue<string>());
        Assert.Empty(await DeliveriesAsync(client, "&status=pending"));

        // Nor does a manual retry send it to the removed URL.
        var retry = await client.PostAsync($"webhooks/deliveries/{failed["id"]!.GetValue<string>()}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, retry.StatusCode);
        Assert.Equal("url_removed", (await retry.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Empty(await DeliveriesAsync(client, "&status=pending"));

        // What comes next goes to the new URL only.
        next.Secrets = receiver.Secrets;
        await grid.ConnectAsync(connectionId: "c-2");
        Assert.True(await next.WaitForAsync(r => r.Count >= 1));
        Assert.Equal("c-2", next.Received[0].ConnectionId);
        Assert.True(next.Received[0].SignatureValid);
    }

    [Fact]
    public async Task Deleting_a_tenant_deletes_its_connections_without_announcing_each()
    {
        await using var grid = await GridCluster.StartAsync(AllowLoopback);
        await using var receiver = await WebhookReceiver.StartAsync();
        using var client = await grid.StartGatewayAsync();
        await ConfigureAsync(client, receiver);
        receiver.Mode = ReceiverMode.Down;
        await grid.ConnectAsync(connectionId: "c-1");
        await grid.ConnectAsync(connectionId: "c-2");

        // The tenant deletion job's connection phase, run step by step so the outbox can be read before it is cleared.
        var work = grid.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<ConnectionGrid.Operations.IOperationWork>(ConnectionGrid.Operations.OperationKind.TenantDelete);
        Assert.True(await work.BeginAsync(GridCluster.Tenant));
        var job = new ConnectionGrid.Operations.OperationState();
        while (job.Phase is null)
        {
            Assert.False(await work.StepAsync(GridCluster.Tenant, job));
        }
        Assert.Equal(2, job.Progress["connections_deleted"]);
        Assert.Null(await grid.Connection("confluence", "c-1").Peek());

        var outbox = await grid.Client.GetGrain<ConnectionGrid.Webhooks.IWebhookGrain>(GridCluster.Tenant).ListDeliveries(null, 200, null);
        Assert.Equal(["auth", "auth"], outbox.Deliveries.Select(d => d.Type));
    }

    /// <summary>Counts the silo's "outbox is full" log lines.</summary>
    private sealed class DropLogs : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ILogger
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains("outbox of tenant", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _count);
            }
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Whether the receiver's current secrets verify a request it kept (its own check, run again).</summary>
    private static bool Verify(WebhookReceiver receiver, ReceivedWebhook request) =>
        request.Signatures.Any(s => receiver.Secrets.Any(secret => Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(secret), System.Text.Encoding.UTF8.GetBytes(request.RawBody))) == s));
}
