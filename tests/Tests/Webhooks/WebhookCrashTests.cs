using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>The real grid process SIGKILLed while a stored event is on its way: the event is delivered after the restart.</summary>
public sealed class WebhookCrashTests
{
    [Fact]
    public async Task An_event_stored_but_not_yet_delivered_when_the_grid_is_killed_is_delivered_after_the_restart()
    {
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl,
            ["Grid:Webhooks:AllowPrivateNetworks"] = "true",
        });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        await WebhookDeliveryTests.ConfigureAsync(client, receiver);

        // The receiver holds the first request open: the event is stored and on its way, not acknowledged.
        receiver.Mode = ReceiverMode.Hang;
        await client.ImportConsentedAsync(emulator, "confluence", "customer-1", DateTimeOffset.UtcNow.AddHours(1));
        Assert.True(await receiver.WaitForAsync(r => r.Count == 1));
        var sent = receiver.Received[0];
        await silo.KillAsync();

        receiver.Mode = ReceiverMode.Up;
        await silo.StartAsync();
        // The outbox's reminder (a minute) picks it up after the restart; no call to the grid is needed.
        Assert.True(await receiver.WaitForAsync(r => r.Any(x => x.AnsweredStatus == 200), TimeSpan.FromMinutes(3)), "not delivered after the restart");
        var delivered = receiver.Delivered.Single();
        Assert.Equal(sent.Id, delivered.Id); // the same event, so the receiver can de-duplicate
        Assert.Equal("creation", delivered.Body["operation"]!.GetValue<string>());
        Assert.True(delivered.SignatureValid, delivered.RawBody);
        var log = (await (await client.GetAsync("webhooks/deliveries?status=delivered")).ReadJsonAsync())["data"]!.AsArray();
        Assert.Equal(sent.Id, Assert.Single(log)!["id"]!.GetValue<string>());
    }
}
