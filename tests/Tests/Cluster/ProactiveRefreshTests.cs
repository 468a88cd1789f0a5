using ConnectionGrid.Connections;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>Connections nobody calls are kept alive by their reminders, driven here by the fake reminder clock.</summary>
public sealed class ProactiveRefreshTests
{
    [Fact]
    public async Task An_idle_connection_is_rotated_by_its_reminder_before_its_inactivity_window_closes()
    {
        await using var grid = await GridCluster.StartAsync();
        var start = grid.Clock.GetUtcNow();
        var (grain, tokens) = await grid.ConnectAsync();

        // An imported token's age is unknown, so the grid rotates it within the hour, with nobody calling.
        Assert.True(await grid.AdvanceToNextRefreshAsync(grain), "the import rotation did not happen");
        Assert.InRange(grid.Clock.GetUtcNow() - start, TimeSpan.Zero, TimeSpan.FromHours(1.2));
        Assert.False(grid.Emulator.IsCurrentRefreshToken(tokens.RefreshToken));

        // Then every ~45 days (ProactiveAt 0.5 of 90 days, ±10%), each time well before the 90-day window closes.
        var lastRotation = grid.Clock.GetUtcNow();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(await grid.AdvanceToNextRefreshAsync(grain), $"proactive refresh {i + 1} did not happen");
            var gap = grid.Clock.GetUtcNow() - lastRotation;
            Assert.InRange(gap, TimeSpan.FromDays(40), TimeSpan.FromDays(50));
            lastRotation = grid.Clock.GetUtcNow();
        }

        var view = (await grain.Peek())!;
        Assert.Equal(ConnectionStatus.Active, view.Lifecycle.Status);
        Assert.Equal(5, view.Lifecycle.RefreshCount);
        Assert.True(grid.Emulator.IsCurrentRefreshToken(view.Credentials.RefreshToken!));
        Assert.Equal(5, grid.Emulator.SuccessfulRefreshes);
        Assert.All(grid.Emulator.Ledger, e => Assert.Equal("rotated", e.Outcome));
        Assert.Null(view.LastFetchedAt); // nobody asked for a token: all of it was the reminders' doing
    }

    [Fact]
    public async Task Proactive_refreshes_stop_at_the_absolute_expiry_whose_date_is_exposed()
    {
        await using var grid = await GridCluster.StartAsync();
        var consentedAt = grid.Clock.GetUtcNow();
        var (grain, _) = await grid.ConnectAsync();

        var refreshes = 0;
        while (await grid.AdvanceToNextRefreshAsync(grain) && refreshes < 20)
        {
            refreshes++;
        }

        var view = (await grain.Peek())!;
        Assert.Equal(consentedAt.AddDays(365), view.Lifecycle.ReauthRequiredBy);
        Assert.Null(view.Lifecycle.NextRefreshAt);
        // Import rotation plus ~45-day rotations up to day 365, and none after it.
        Assert.InRange(refreshes, 7, 10);
        Assert.All(grid.Emulator.Ledger, e => Assert.True(e.At < consentedAt.AddDays(365)));
        Assert.Equal(consentedAt.AddDays(365), view.Lifecycle.RefreshTokenExpiresAt);
    }

    [Fact]
    public async Task A_connection_whose_reminder_row_was_lost_gets_it_back_when_it_next_activates()
    {
        await using var grid = await GridCluster.StartAsync();
        var (grain, _) = await grid.ConnectAsync(connectionId: "lost-reminder");
        Assert.Equal(1L, ReminderRows(grid));

        // As if the reminder write had failed and the activation had been collected before retrying it.
        GridDatabase.Execute(grid.DatabasePath, "DELETE FROM OrleansRemindersTable WHERE GrainId LIKE '%acme/confluence/lost-reminder'");
        await grid.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(0L, ReminderRows(grid));

        await grain.Peek(); // the next activation, for whatever reason
        Assert.Equal(1L, ReminderRows(grid));
        Assert.True(await grid.AdvanceToNextRefreshAsync(grain), "the re-armed reminder did not refresh");
    }

    private static long ReminderRows(GridCluster grid) =>
        GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansRemindersTable WHERE GrainId LIKE '%acme/confluence/lost-reminder'");
}
