using ConnectionGrid.Gateway.Connect;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Tests.Unit;

/// <summary>Links the grid hands out must name a host a browser can reach.</summary>
public sealed class PublicUrlTests
{
    [Theory]
    [InlineData("http://[::]:8080")]
    [InlineData("http://0.0.0.0:8080")]
    [InlineData("http://+:8080")]
    [InlineData("http://*:8080")]
    public void Listening_on_every_address_without_a_public_url_makes_no_links(string listening)
    {
        var url = new PublicUrl(Options.Create(new PublicUrlOptions()), new ListeningServer(listening));
        Assert.Equal(PublicUrl.RequiredCode, url.Unusable?.Code);
    }

    [Theory]
    [InlineData(null, "http://127.0.0.1:3003", "http://127.0.0.1:3003/oauth/callback")]
    [InlineData(null, "http://localhost:3003/", "http://localhost:3003/oauth/callback")]
    [InlineData("https://grid.example.com/", "http://[::]:8080", "https://grid.example.com/oauth/callback")]
    public void A_reachable_address_or_the_configured_public_url_makes_links(string? configured, string listening, string callback)
    {
        var url = new PublicUrl(Options.Create(new PublicUrlOptions { PublicUrl = configured }), new ListeningServer(listening));
        Assert.Null(url.Unusable);
        Assert.Equal(callback, url.Callback);
    }

    private sealed class ListeningServer : IServer
    {
        public ListeningServer(string address)
        {
            var addresses = new ServerAddressesFeature();
            addresses.Addresses.Add(address);
            Features.Set<IServerAddressesFeature>(addresses);
        }

        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
