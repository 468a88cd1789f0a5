using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>The connect flow's outcomes as Nango's <c>auth</c> events: a connection created, then a user who declines.</summary>
public sealed class WebhookConnectFlowTests
{
    [Fact]
    public async Task A_connection_made_through_the_flow_and_a_declined_consent_each_send_an_auth_creation_event()
    {
        await using var grid = await GridCluster.StartAsync(settings => settings["Grid:Webhooks:AllowPrivateNetworks"] = "true");
        await using var receiver = await WebhookReceiver.StartAsync();
        using var api = await grid.StartGatewayAsync();
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = api.BaseAddress };
        await WebhookDeliveryTests.ConfigureAsync(api, receiver);
        var integration = await api.PostAsJsonAsync("integrations", new
        {
            unique_key = "confluence",
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = grid.Emulator.ClientId, client_secret = grid.Emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        Assert.Equal(HttpStatusCode.OK, integration.StatusCode);

        async Task<HttpStatusCode> ConnectAsync()
        {
            var session = await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "user-1", email = "alice@acme.example" } });
            Assert.Equal(HttpStatusCode.Created, session.StatusCode);
            var token = (await session.ReadJsonAsync())["data"]!["token"]!.GetValue<string>();
            var toProvider = await browser.GetAsync($"oauth/connect/confluence?connect_session_token={Uri.EscapeDataString(token)}");
            Assert.Equal(HttpStatusCode.Redirect, toProvider.StatusCode);
            var toCallback = await browser.GetAsync(toProvider.Headers.Location);
            Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
            return (await browser.GetAsync(toCallback.Headers.Location)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await ConnectAsync());
        grid.Emulator.Options.DenyConsent = true;
        Assert.Equal(HttpStatusCode.Forbidden, await ConnectAsync());

        Assert.True(await receiver.WaitForAsync(r => r.Count(x => x.Type == "auth") == 2));
        var (created, declined) = (receiver.Delivered[0], receiver.Delivered[1]);
        Assert.All(receiver.Received, r => Assert.True(r.SignatureValid, r.RawBody));
        Assert.Equal("creation", created.Body["operation"]!.GetValue<string>());
        Assert.True(created.Body["success"]!.GetValue<bool>());
        Assert.Equal("user-1", created.Body["endUser"]!["endUserId"]!.GetValue<string>());
        var connectionId = (await (await api.GetAsync("connections")).ReadJsonAsync())["connections"]![0]!["connection_id"]!.GetValue<string>();
        Assert.Equal(connectionId, created.ConnectionId);
        Assert.Equal("creation", declined.Body["operation"]!.GetValue<string>());
        Assert.False(declined.Body["success"]!.GetValue<bool>());
        Assert.Equal("access_denied", declined.Body["error"]!["type"]!.GetValue<string>());
        Assert.Equal("user-1", declined.Body["endUser"]!["endUserId"]!.GetValue<string>());
    }
}
