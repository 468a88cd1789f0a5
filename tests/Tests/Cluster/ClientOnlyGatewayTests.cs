using System.Net;
using System.Net.Http.Headers;
using ConnectionGrid.Gateway;
using ConnectionGrid.Storage;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// The HTTP API hosted the way a separate gateway process hosts it: its container holds the gateway's own services and
/// an Orleans client, none of the silo's (no database, no index). Listings must still work, through grains.
/// </summary>
public sealed class ClientOnlyGatewayTests
{
    private const string AdminKey = "cg_admin_client_only_gateway_0123456789";

    [Fact]
    public async Task Listings_are_served_through_grains_by_a_gateway_without_the_database()
    {
        await using var grid = await GridCluster.StartAsync();
        await grid.ConnectAsync("confluence", "customer-1");
        await grid.ConnectAsync("jira", "customer-2");
        var globexKey = SecretKeys.Generate();
        Assert.True((await grid.Client.GetGrain<ITenantGrain>("globex").Create("Globex", SecretKeys.Hash(globexKey), [KeyScopes.Full])).Succeeded);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Grid:Admin:ApiKey"] = AdminKey;
        builder.Services.AddSingleton<IGrainFactory>(grid.Client);
        builder.Services.AddGridGateway();
        await using var gateway = builder.Build();
        gateway.UseGridMiddleware();
        gateway.MapGridApi();
        await gateway.StartAsync();
        Assert.Null(gateway.Services.GetService<IGridIndex>());
        Assert.Null(gateway.Services.GetService<SqlGridIndex>());

        using var acme = Client(gateway, GridCluster.SecretKey);
        var connections = await Get(acme, "connections");
        Assert.Equal(["customer-2", "customer-1"], Ids(connections["connections"]!, "connection_id"));
        // The filters cross the grain boundary too: more than one integration, and an exact connection id.
        var filtered = await Get(acme, "connections?integrationId=confluence,jira&connectionId=customer-1");
        Assert.Equal(["customer-1"], Ids(filtered["connections"]!, "connection_id"));
        Assert.Equal(["confluence", "jira"], Ids((await Get(acme, "integrations"))["data"]!, "unique_key").Order());

        // The tenant comes from the key: another tenant's key lists nothing of acme's.
        using var globex = Client(gateway, globexKey);
        Assert.Empty((await Get(globex, "connections"))["connections"]!.AsArray());
        Assert.Empty((await Get(globex, "integrations"))["data"]!.AsArray());

        using var admin = Client(gateway, AdminKey);
        var first = await Get(admin, "admin/tenants?limit=1");
        Assert.Equal(["acme"], Ids(first["data"]!, "id"));
        Assert.Equal("acme", first["next_cursor"]!.GetValue<string>());
        Assert.Equal(["globex"], Ids((await Get(admin, "admin/tenants?after=acme"))["data"]!, "id"));

        await gateway.StopAsync();
    }

    private static HttpClient Client(WebApplication gateway, string key)
    {
        var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single() + "/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> Get(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    private static IEnumerable<string> Ids(System.Text.Json.Nodes.JsonNode list, string field) =>
        list.AsArray().Select(item => item![field]!.GetValue<string>()).ToList();
}
