using System.Net;
using ConnectionGrid.Connections;
using ConnectionGrid.OAuth;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>A failure of a refresh that nobody anticipated still ends in the classified path: persisted backoff, a 424, no loop.</summary>
public sealed class UnexpectedRefreshFailureTests
{
    private const string Path = "connections/customer-1?provider_config_key=confluence";

    [Fact]
    public async Task An_unexpected_exception_after_the_provider_call_backs_off_like_any_transient_failure()
    {
        var bug = new SimulatedBug();
        await using var grid = await GridCluster.StartAsync(configureSilo: silo =>
            // Inside the resilience pipeline, around the real call: the provider answers (and rotates), then the grid's
            // own code throws something nobody anticipated, as a parser bug would.
            silo.Services.AddHttpClient(TokenClient.RetryingClient).AddHttpMessageHandler(() => new ThrowAfterResponse(bug)));
        using var client = await grid.StartGatewayAsync();
        var (grain, _) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        bug.Armed = true;

        var first = await client.GetAsync(Path);
        Assert.Equal(HttpStatusCode.FailedDependency, first.StatusCode);
        Assert.Equal("connection_refresh_backoff", (await first.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.NotNull(first.Headers.RetryAfter);
        var view = (await grain.Peek())!;
        Assert.Equal(ConnectionStatus.RefreshFailing, view.Lifecycle.Status);
        Assert.Equal("refresh_failed", view.Lifecycle.LastError!.Code);
        Assert.DoesNotContain(SimulatedBug.Secret, view.Lifecycle.LastError.Message);
        Assert.NotNull(view.Lifecycle.RetryNotBefore);
        Assert.Single(grid.Emulator.Ledger);

        // Backing off: no call reaches the provider, whatever the callers do.
        for (var i = 0; i < 10; i++)
        {
            var again = await client.GetAsync(Path + (i % 2 == 0 ? "&force_refresh=true" : ""));
            Assert.Equal(HttpStatusCode.FailedDependency, again.StatusCode);
        }
        Assert.Single(grid.Emulator.Ledger);

        // The backoff was persisted: a new activation honours it too.
        await grid.Cluster.DeactivateAsync(grain);
        Assert.Equal(HttpStatusCode.FailedDependency, (await client.GetAsync(Path)).StatusCode);
        Assert.Single(grid.Emulator.Ledger);

        // After the backoff it recovers with the token it holds (the provider's leeway covers the answer it lost).
        bug.Armed = false;
        grid.Clock.Advance(TimeSpan.FromMinutes(1));
        var after = await client.GetAsync(Path);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(0, grid.Emulator.Breaches);
        Assert.Equal("reused_within_leeway", grid.Emulator.Ledger[^1].Outcome);
    }

    private sealed class SimulatedBug
    {
        public const string Secret = "secret-looking-detail";

        public volatile bool Armed;
    }

    private sealed class ThrowAfterResponse(SimulatedBug bug) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (bug.Armed)
            {
                response.Dispose();
                throw new FormatException($"Simulated bug reading the answer ({SimulatedBug.Secret}).");
            }
            return response;
        }
    }
}
