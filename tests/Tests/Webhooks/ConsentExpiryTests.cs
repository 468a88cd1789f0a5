using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>
/// A connection nobody calls, walked by the fake clock through its 365-day consent: it warns 30, 7 and 1 days before the
/// end (once each, also across a silo restart), and at the end turns reauth_required on its own without calling the
/// provider.
/// </summary>
public sealed class ConsentExpiryTests
{
    [Fact]
    public async Task An_idle_connection_warns_three_times_once_each_across_a_restart_then_ends_by_itself()
    {
        await using var grid = await GridCluster.StartAsync(settings =>
        {
            settings["Grid:Webhooks:AllowPrivateNetworks"] = "true";
            // A sliding window longer than consent and no jitter: after one refresh only the warnings and the end remain.
            settings["Grid:Providers:atlassian:RefreshToken:InactivityExpiry"] = "400.00:00:00";
            settings["Grid:Refresh:ProactiveAt"] = "0.95";
            settings["Grid:Refresh:ProactiveJitter"] = "0";
        }, new AtlassianEmulatorOptions { InactivityExpiry = TimeSpan.FromDays(400) });
        await using var receiver = await WebhookReceiver.StartAsync();
        using (var client = await grid.StartGatewayAsync())
        {
            await WebhookDeliveryTests.ConfigureAsync(client, receiver);
        }
        var consentedAt = grid.Clock.GetUtcNow();
        var end = consentedAt.AddDays(365);
        var (grain, _) = await grid.ConnectAsync(connectionId: "c-idle");
        Assert.True((await grain.GetWithToken(forceRefresh: true)).Succeeded);
        Assert.Null((await grain.Peek())!.Lifecycle.NextRefreshAt); // nothing left to refresh before the end
        var providerCalls = grid.Emulator.Ledger.Count;
        Assert.True(await receiver.WaitForAsync(r => r.Count == 1));

        var expected = new List<TimeSpan>();
        foreach (var lead in new[] { TimeSpan.FromDays(30), TimeSpan.FromDays(7), TimeSpan.FromDays(1) })
        {
            expected.Add(lead);
            Assert.True(await WalkToAsync(grid, receiver, end - lead, () => Warnings(receiver).Count == expected.Count),
                $"no warning {lead.TotalDays} days before the end; got [{string.Join(", ", Warnings(receiver))}]");
            if (lead == TimeSpan.FromDays(30))
            {
                // The silo goes down and comes back: what was sent is in the connection's state.
                var silo = grid.Cluster.Silos[0];
                await grid.Cluster.RestartSiloAsync(silo);
                // The test cluster's client may still be looking for the old silo's gateway: call through the new silo.
                grain = grid.Cluster.GetSiloServiceProvider().GetRequiredService<IGrainFactory>()
                    .GetGrain<IConnectionGrain>(ConnectionGrid.Common.GridKeys.Connection(GridCluster.Tenant, "confluence", "c-idle"));
            }
        }

        Assert.True(await WalkToAsync(grid, receiver, end, () => receiver.Delivered.Any(r => r.Type == "connection.reauth_required")),
            "no reauth_required at the end of consent");
        var reauth = receiver.Delivered.Single(r => r.Type == "connection.reauth_required");
        Assert.Equal("consent_expired", reauth.Body["error"]!["type"]!.GetValue<string>());
        var view = (await grain.Peek())!;
        Assert.Equal(ConnectionStatus.ReauthRequired, view.Lifecycle.Status);
        Assert.Equal("consent_expired", view.Lifecycle.LastError!.Code);
        Assert.Equal(providerCalls, grid.Emulator.Ledger.Count); // the dead token was never sent

        // A day later still nothing more: each warning once, in order, naming the end.
        await WalkToAsync(grid, receiver, end.AddDays(1), () => grid.Clock.GetUtcNow() >= end.AddDays(1).AddMinutes(10));
        Assert.Equal(expected, Warnings(receiver));
        Assert.All(receiver.Received.Where(r => r.Type == "connection.consent_expiring"),
            r => Assert.Equal(end, r.Body["reauthRequiredBy"]!.GetValue<DateTimeOffset>()));
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid, r.RawBody));
        Assert.Equal(receiver.Received.Count, receiver.Received.Select(r => r.Id).Distinct().Count());
    }

    private static List<TimeSpan> Warnings(WebhookReceiver receiver) => receiver.Received
        .Where(r => r.Type == "connection.consent_expiring")
        .Select(r => TimeSpan.FromSeconds(r.Body["leadTimeSeconds"]!.GetValue<long>())).ToList();

    /// <summary>
    /// Moves the clock the way time passes for the reminder service: a jump to shortly before the target, then minute by
    /// minute (Orleans loads only reminders due within its 10-minute window) until the condition holds. The clock stops
    /// six hours past the target (far from the next lead time) and then only real time passes, so a loaded machine is
    /// slower, never wrong.
    /// </summary>
    private static async Task<bool> WalkToAsync(GridCluster grid, WebhookReceiver receiver, DateTimeOffset target, Func<bool> done)
    {
        var before = target - TimeSpan.FromMinutes(7);
        if (before > grid.Clock.GetUtcNow())
        {
            grid.Clock.SetUtcNow(before);
        }
        var limit = target + TimeSpan.FromHours(6);
        return await receiver.WaitForAsync(_ => done(), TimeSpan.FromSeconds(60), async () =>
        {
            if (grid.Clock.GetUtcNow() < limit)
            {
                grid.Clock.Advance(TimeSpan.FromMinutes(1));
            }
            await Task.Delay(25);
        });
    }
}
