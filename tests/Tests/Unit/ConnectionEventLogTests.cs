using ConnectionGrid.Events;
using ConnectionGrid.Gateway.Grpc;
using ConnectionGrid.Webhooks;
using Grpc.Core;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The watchers' event log and the gRPC mapping of the HTTP API's errors, without a cluster.</summary>
public sealed class ConnectionEventLogTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static ConnectionEventRecord Event(string connection, string integration = "confluence", ConnectionEventKind kind = ConnectionEventKind.Refreshed, DateTimeOffset? at = null) =>
        new() { Kind = kind, IntegrationKey = integration, ConnectionId = connection, At = at ?? Start };

    [Fact]
    public void Reading_from_a_position_returns_later_matching_events_in_order_and_moves_past_the_others()
    {
        var log = new ConnectionEventLog("ab12", maxCount: 100, retention: TimeSpan.FromHours(1));
        var start = log.Read(null, "confluence", null, 10, Start).Next;
        log.Append(Event("a"), Start);
        log.Append(Event("x", integration: "jira"), Start);
        log.Append(Event("b"), Start);

        var page = log.Read(start, "confluence", null, 10, Start);
        Assert.Equal(["a", "b"], page.Events.Select(e => e.ConnectionId));
        Assert.Equal([1L, 3L], page.Events.Select(e => e.Sequence));
        Assert.Equal(new EventPosition("ab12", 3), page.Next);
        Assert.False(page.Expired);

        var one = log.Read(start, "confluence", "b", 10, Start);
        Assert.Equal(["b"], one.Events.Select(e => e.ConnectionId));
        Assert.Empty(log.Read(page.Next, "confluence", null, 10, Start).Events);
    }

    [Fact]
    public void A_full_page_says_more_follow_and_the_next_page_continues_without_a_repeat()
    {
        var log = new ConnectionEventLog("ab12", 100, TimeSpan.FromHours(1));
        var start = log.Newest;
        for (var i = 0; i < 5; i++)
        {
            log.Append(Event($"c{i}"), Start);
        }
        var first = log.Read(start, "confluence", null, 2, Start);
        Assert.True(first.More);
        var second = log.Read(first.Next, "confluence", null, 2, Start);
        var third = log.Read(second.Next, "confluence", null, 2, Start);
        Assert.False(third.More);
        Assert.Equal(["c0", "c1", "c2", "c3", "c4"], first.Events.Concat(second.Events).Concat(third.Events).Select(e => e.ConnectionId));
    }

    [Fact]
    public void A_position_whose_successors_were_dropped_by_count_or_age_or_of_another_epoch_is_expired()
    {
        var log = new ConnectionEventLog("ab12", maxCount: 3, retention: TimeSpan.FromHours(1));
        var start = log.Newest;
        log.Append(Event("a"), Start);
        var afterA = log.Newest;
        for (var i = 0; i < 3; i++)
        {
            log.Append(Event($"b{i}"), Start);
        }
        // "a" was dropped (count 3): reading after 0 would skip it silently.
        Assert.True(log.Read(start, "confluence", null, 10, Start).Expired);
        // After "a" everything is still there.
        Assert.Equal(3, log.Read(afterA, "confluence", null, 10, Start).Events.Count);

        // Two hours on, all are too old: the newest position still reads (nothing missed), any earlier one does not.
        var later = Start.AddHours(2);
        Assert.True(log.Read(afterA, "confluence", null, 10, later).Expired);
        var newest = log.Read(log.Newest, "confluence", null, 10, later);
        Assert.False(newest.Expired);
        Assert.Empty(newest.Events);

        Assert.True(log.Read(new EventPosition("ffff", 4), "confluence", null, 10, later).Expired);
        Assert.True(log.Read(new EventPosition("ab12", 99), "confluence", null, 10, later).Expired);
    }

    [Fact]
    public void Events_read_in_order_across_the_buffer_growing_and_wrapping_around()
    {
        // 40 kept: the buffer grows past its first size; 100 appended: it wraps around more than once.
        var log = new ConnectionEventLog("ab12", maxCount: 40, retention: TimeSpan.FromHours(1));
        var start = log.Newest;
        for (var i = 1; i <= 30; i++)
        {
            log.Append(Event($"c{i}"), Start);
        }
        Assert.Equal(Enumerable.Range(1, 30).Select(i => $"c{i}"), log.Read(start, "confluence", null, 1000, Start).Events.Select(e => e.ConnectionId));
        for (var i = 31; i <= 100; i++)
        {
            log.Append(Event($"c{i}", integration: i % 2 == 0 ? "confluence" : "jira"), Start);
        }
        Assert.Equal(40, log.Count);
        // Kept: 61..100. After 60 is the oldest readable position; after 59 crossed a dropped event.
        Assert.True(log.Read(new EventPosition("ab12", 59), "confluence", null, 1000, Start).Expired);
        var page = log.Read(new EventPosition("ab12", 60), "confluence", null, 1000, Start);
        Assert.Equal(Enumerable.Range(61, 40).Where(i => i % 2 == 0).Select(i => $"c{i}"), page.Events.Select(e => e.ConnectionId));
        Assert.Equal(page.Events.Select(e => (long)int.Parse(e.ConnectionId[1..], System.Globalization.CultureInfo.InvariantCulture)), page.Events.Select(e => e.Sequence));
        Assert.Equal(new EventPosition("ab12", 100), page.Next);
        Assert.Equal(["c98", "c100"], log.Read(new EventPosition("ab12", 96), "confluence", null, 1000, Start).Events.Select(e => e.ConnectionId));

        // Retention drops the oldest from the head of the ring: events of the last half hour stay.
        for (var i = 101; i <= 110; i++)
        {
            log.Append(Event($"c{i}", at: Start.AddMinutes(40)), Start.AddMinutes(40));
        }
        var later = Start.AddMinutes(70);
        Assert.True(log.Read(new EventPosition("ab12", 99), "confluence", null, 1000, later).Expired);
        Assert.Equal(10, log.Read(new EventPosition("ab12", 100), "confluence", null, 1000, later).Events.Count);
    }

    [Fact]
    public void After_a_lost_event_every_earlier_position_is_expired_and_the_newest_reads_on()
    {
        var log = new ConnectionEventLog("ab12", maxCount: 100, retention: TimeSpan.FromHours(1));
        var start = log.Newest;
        log.Append(Event("a"), Start);
        var afterA = log.Newest;
        log.Lost(); // an append that failed: the event after "a" may exist nowhere
        var afterGap = log.Newest;
        log.Append(Event("b"), Start);

        // A watcher at start or after "a" would read "b" as if nothing came between: told to resynchronise instead.
        Assert.True(log.Read(start, "confluence", null, 10, Start).Expired);
        Assert.True(log.Read(afterA, "confluence", null, 10, Start).Expired);
        Assert.Equal(["b"], log.Read(afterGap, "confluence", null, 10, Start).Events.Select(e => e.ConnectionId));
    }

    [Theory]
    [InlineData("ab12-7", true)]
    [InlineData("ab12-0", true)]
    [InlineData("ab12", false)]
    [InlineData("-7", false)]
    [InlineData("AB12-7", false)]
    [InlineData("ab12--7", false)]
    [InlineData("ab12-+7", false)]
    [InlineData("zz-7", false)]
    public void Event_ids_parse_only_as_the_log_writes_them(string id, bool valid)
    {
        Assert.Equal(valid, EventPosition.TryParse(id, out var position));
        if (valid)
        {
            Assert.Equal(id, position.ToString());
        }
    }

    [Fact]
    public void Webhook_payloads_become_watcher_events_and_a_successful_auth_refresh_is_not_one()
    {
        var created = WebhookEvents.WatchedEvent(WebhookEvents.Auth("creation", true, "confluence", "c1", "confluence", null, null, null), "confluence", "c1", Start);
        Assert.Equal(ConnectionEventKind.Created, created!.Kind);
        var failed = WebhookEvents.WatchedEvent(WebhookEvents.Auth("refresh", false, "confluence", "c1", "confluence", null, "invalid_grant", "revoked"), "confluence", "c1", Start);
        Assert.Equal((ConnectionEventKind.RefreshFailed, "invalid_grant", "revoked"), (failed!.Kind, failed.ErrorCode, failed.ErrorMessage));
        var expiring = WebhookEvents.Envelope(WebhookEventTypes.ConsentExpiring, "confluence", "c1", "confluence");
        expiring["reauthRequiredBy"] = "2026-04-01T09:00:00Z";
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 9, 0, 0, TimeSpan.Zero), WebhookEvents.WatchedEvent(expiring, "confluence", "c1", Start)!.ReauthRequiredBy);
        Assert.Equal(ConnectionEventKind.Deleted, WebhookEvents.WatchedEvent(WebhookEvents.Envelope(WebhookEventTypes.Deleted, "confluence", "c1", null), "confluence", "c1", Start)!.Kind);
    }

    [Theory]
    [InlineData(400, "invalid_connection_id", StatusCode.InvalidArgument)]
    [InlineData(401, "unknown_account", StatusCode.Unauthenticated)]
    [InlineData(403, "insufficient_scope", StatusCode.PermissionDenied)]
    [InlineData(404, "unknown_connection", StatusCode.NotFound)]
    [InlineData(409, "conflict", StatusCode.Aborted)]
    [InlineData(424, "connection_reauth_required", StatusCode.FailedPrecondition)]
    [InlineData(424, "connection_refresh_backoff", StatusCode.Unavailable)]
    [InlineData(429, "rate_limit_exceeded", StatusCode.ResourceExhausted)]
    [InlineData(503, "grid_unavailable", StatusCode.Unavailable)]
    [InlineData(503, "storage_integrity_error", StatusCode.DataLoss)]
    [InlineData(400, "events_expired", StatusCode.OutOfRange)]
    [InlineData(500, "server_error", StatusCode.Internal)]
    public void Http_errors_map_to_the_grpc_status_the_readme_lists(int status, string code, StatusCode expected) =>
        Assert.Equal(expected, GrpcErrors.CodeOf(status, code));

    [Fact]
    public void A_retryable_error_carries_its_delay_in_whole_seconds()
    {
        var status = GrpcErrors.StatusOf(503, new Gateway.Errors.ErrorDetail("grid_unavailable", "later"), TimeSpan.FromMilliseconds(1500));
        var retry = status.Details.Single(d => d.Is(Google.Rpc.RetryInfo.Descriptor)).Unpack<Google.Rpc.RetryInfo>();
        Assert.Equal(2, retry.RetryDelay.Seconds);
        var info = status.Details.Single(d => d.Is(Google.Rpc.ErrorInfo.Descriptor)).Unpack<Google.Rpc.ErrorInfo>();
        Assert.Equal(("grid_unavailable", "connectiongrid"), (info.Reason, info.Domain));
    }
}
