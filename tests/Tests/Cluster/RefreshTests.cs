using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>Refresh behaviour of connection grains on a real cluster with SQLite storage and the emulated Atlassian.</summary>
public sealed class RefreshTests
{
    [Fact]
    public async Task Two_hundred_concurrent_calls_on_an_expired_token_cause_exactly_one_refresh()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, tokens) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => grain.GetWithToken(forceRefresh: false)));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Problem?.Message));
        Assert.Single(results.Select(r => r.Value!.Credentials.AccessToken).Distinct());
        Assert.NotEqual(tokens.AccessToken, results[0].Value!.Credentials.AccessToken);
        Assert.True(grid.Emulator.IsValidAccessToken(results[0].Value!.Credentials.AccessToken));
        Assert.Single(grid.Emulator.Ledger, e => e.GrantType == "refresh_token");
        Assert.Equal(1, grid.Emulator.SuccessfulRefreshes);
    }

    [Fact]
    public async Task The_rotated_refresh_token_is_persisted_and_survives_deactivation()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, tokens) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));

        var first = await grain.GetWithToken(false);
        Assert.True(first.Succeeded);
        Assert.True(grid.Emulator.IsCurrentRefreshToken(first.Value!.Credentials.RefreshToken!));
        Assert.False(grid.Emulator.IsCurrentRefreshToken(tokens.RefreshToken));

        // Drop the activation: the next one reads from SQLite and must hold the rotated token, not the imported one.
        await grid.Cluster.DeactivateAsync(grain);
        grid.Clock.Advance(TimeSpan.FromHours(2));
        var second = await grain.GetWithToken(false);

        Assert.True(second.Succeeded, second.Problem?.Message);
        Assert.Equal(2, grid.Emulator.SuccessfulRefreshes);
        Assert.Equal(0, grid.Emulator.Breaches);
        Assert.DoesNotContain(grid.Emulator.Ledger, e => e.Outcome == "reused_within_leeway");
        Assert.True(grid.Emulator.IsCurrentRefreshToken(second.Value!.Credentials.RefreshToken!));
    }

    [Fact]
    public async Task A_fresh_token_is_served_without_calling_the_provider()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, tokens) = await grid.ConnectAsync();

        for (var i = 0; i < 5; i++)
        {
            var result = await grain.GetWithToken(false);
            Assert.Equal(tokens.AccessToken, result.Value!.Credentials.AccessToken);
        }
        Assert.Empty(grid.Emulator.Ledger);
    }

    [Fact]
    public async Task Force_refresh_is_honoured_but_limited_by_the_cooldown()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, tokens) = await grid.ConnectAsync();

        var forced = await grain.GetWithToken(forceRefresh: true);
        Assert.NotEqual(tokens.AccessToken, forced.Value!.Credentials.AccessToken);
        var again = await grain.GetWithToken(forceRefresh: true);
        Assert.Equal(forced.Value!.Credentials.AccessToken, again.Value!.Credentials.AccessToken);
        Assert.Equal(1, grid.Emulator.SuccessfulRefreshes);

        grid.Clock.Advance(TimeSpan.FromSeconds(11));
        var later = await grain.GetWithToken(forceRefresh: true);
        Assert.NotEqual(forced.Value!.Credentials.AccessToken, later.Value!.Credentials.AccessToken);
        Assert.Equal(2, grid.Emulator.SuccessfulRefreshes);
    }

    [Fact]
    public async Task A_response_without_refresh_token_keeps_the_old_one()
    {
        await using var grid = await GridCluster.StartAsync(emulatorOptions: new AtlassianEmulatorOptions { OmitRefreshTokenInResponse = true });
        var (grain, tokens) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));

        var result = await grain.GetWithToken(false);

        Assert.True(result.Succeeded, result.Problem?.Message);
        Assert.Equal(tokens.RefreshToken, result.Value!.Credentials.RefreshToken);
        Assert.True(grid.Emulator.IsCurrentRefreshToken(tokens.RefreshToken));
    }

    [Fact]
    public async Task A_dead_refresh_token_requires_reauth_and_the_provider_is_not_called_again()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, tokens) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        grid.Emulator.RevokeFamilyOf(tokens.RefreshToken);

        var first = await grain.GetWithToken(false);
        Assert.False(first.Succeeded);
        Assert.Equal("connection_reauth_required", first.Problem!.Code);
        Assert.Equal(ProblemKind.Unavailable, first.Problem.Kind);
        var calls = grid.Emulator.Ledger.Count;

        for (var i = 0; i < 10; i++)
        {
            var again = await grain.GetWithToken(forceRefresh: i % 2 == 0);
            Assert.Equal("connection_reauth_required", again.Problem?.Code);
        }
        await grid.AdvanceAsync(TimeSpan.FromDays(100));

        Assert.Equal(calls, grid.Emulator.Ledger.Count);
        var view = await grain.Peek();
        Assert.Equal(ConnectionStatus.ReauthRequired, view!.Lifecycle.Status);
        Assert.Equal("invalid_grant", view.Lifecycle.LastError!.Code);
        Assert.True(view.Lifecycle.LastError.Permanent);
    }

    [Fact]
    public async Task Provider_outage_backs_off_and_serves_the_still_valid_token()
    {
        await using var grid = await GridCluster.StartAsync();
        // 3 minutes left: inside the 5-minute margin, so the grid tries to refresh, but the token still works.
        var (grain, tokens) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(3));
        grid.Emulator.Enqueue(Fault.Status(503, TimeSpan.FromMinutes(10)));

        var during = await grain.GetWithToken(false);
        Assert.True(during.Succeeded, during.Problem?.Message);
        Assert.Equal(tokens.AccessToken, during.Value!.Credentials.AccessToken);
        Assert.Equal(ConnectionStatus.RefreshFailing, during.Value.Lifecycle.Status);
        Assert.Equal(grid.Clock.GetUtcNow().AddMinutes(10), during.Value.Lifecycle.RetryNotBefore);

        // While backing off, callers get the valid token and the provider is left alone.
        grid.Clock.Advance(TimeSpan.FromMinutes(2));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(tokens.AccessToken, (await grain.GetWithToken(false)).Value!.Credentials.AccessToken);
        }
        Assert.Single(grid.Emulator.Ledger);

        // Once the token has expired during the backoff, callers get a clear 424-class error with a retry time.
        grid.Clock.Advance(TimeSpan.FromMinutes(2));
        var expired = await grain.GetWithToken(false);
        Assert.Equal("connection_refresh_backoff", expired.Problem?.Code);
        Assert.NotNull(expired.Problem!.RetryAt);

        // After the backoff the next call refreshes and the connection recovers.
        grid.Clock.Advance(TimeSpan.FromMinutes(7));
        var after = await grain.GetWithToken(false);
        Assert.True(after.Succeeded, after.Problem?.Message);
        Assert.Equal(ConnectionStatus.Active, after.Value!.Lifecycle.Status);
        Assert.Equal(1, grid.Emulator.SuccessfulRefreshes);
    }

    [Fact]
    public async Task Rate_limiting_honours_retry_after()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, _) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        grid.Emulator.Enqueue(Fault.Status(429, TimeSpan.FromMinutes(10)));

        var limited = await grain.GetWithToken(false);
        Assert.Equal("connection_refresh_backoff", limited.Problem?.Code);
        Assert.Equal(grid.Clock.GetUtcNow().AddMinutes(10), limited.Problem!.RetryAt);

        grid.Clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("connection_refresh_backoff", (await grain.GetWithToken(false)).Problem?.Code);
        Assert.Single(grid.Emulator.Ledger);

        grid.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True((await grain.GetWithToken(false)).Succeeded);
    }

    [Fact]
    public async Task A_lost_response_after_rotation_is_recovered_within_the_reuse_interval()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, _) = await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        grid.Emulator.Enqueue(Fault.LoseResponseAfterRotation());

        var result = await grain.GetWithToken(false);

        // The token client replays the lost request; the provider accepts the previous token within its leeway.
        Assert.True(result.Succeeded, result.Problem?.Message);
        Assert.Equal(0, grid.Emulator.Breaches);
        Assert.True(grid.Emulator.IsCurrentRefreshToken(result.Value!.Credentials.RefreshToken!));
    }
}
