using Google.Protobuf;
using ConnectionGrid.Grpc.V1;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;
using Grpc.Core;

namespace ConnectionGrid.Tests.Grpc;

/// <summary>
/// gRPC in front of a test cluster on a fake clock (the grid's gateway in-process, as the HTTP API tests run it): the
/// event stream fed by the grains, resuming after a reconnect, deadlines against a slow provider, and refresh failures
/// as statuses.
/// </summary>
public sealed class GrpcClusterTests
{
    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);

    [Fact]
    public async Task A_watcher_receives_the_refresh_and_the_delete_of_its_connection()
    {
        await using var grid = await GridCluster.StartAsync();
        using var http = await grid.StartGatewayAsync();
        var (_, tokens) = await grid.ConnectAsync(connectionId: "watched", expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var grpc = client.Connections;

        using var watch = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ConnectionId = "watched" }, deadline: Deadline());
        await watch.ResponseHeadersAsync;

        var token = await grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "watched" }, deadline: Deadline());
        Assert.NotEqual(tokens.AccessToken, token.AccessToken);
        var refreshed = await GrpcClient.NextAsync(watch.ResponseStream);
        Assert.Equal(ConnectionEventType.Refreshed, refreshed.Type);
        Assert.Equal(("confluence", "watched"), (refreshed.ProviderConfigKey, refreshed.ConnectionId));
        Assert.Equal(grid.Clock.GetUtcNow(), refreshed.At.ToDateTimeOffset());
        // No token travels with an event.
        Assert.DoesNotContain(token.AccessToken, refreshed.ToString());

        await grpc.DeleteConnectionAsync(new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "watched" }, deadline: Deadline());
        var deleted = await GrpcClient.NextAsync(watch.ResponseStream);
        Assert.Equal(ConnectionEventType.Deleted, deleted.Type);
        Assert.NotEqual(refreshed.Id, deleted.Id);
    }

    [Fact]
    public async Task A_watcher_that_reconnects_with_its_last_event_id_gets_every_later_event_once()
    {
        await using var grid = await GridCluster.StartAsync();
        using var http = await grid.StartGatewayAsync();
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var grpc = client.Connections;
        await grid.ConnectAsync(connectionId: "c0");
        var integration = new WatchConnectionsRequest { ProviderConfigKey = "confluence" };

        string lastId;
        using (var first = grpc.WatchConnections(integration, deadline: Deadline()))
        {
            await first.ResponseHeadersAsync;
            await grid.ConnectAsync(connectionId: "c1");
            var received = await GrpcClient.NextAsync(first.ResponseStream);
            Assert.Equal((ConnectionEventType.Created, "c1"), (received.Type, received.ConnectionId));
            lastId = received.Id;
        } // the client goes away

        // Missed while disconnected: two connections created, one of another integration (not watched), one deleted.
        await grid.ConnectAsync(connectionId: "c2");
        await grid.ConnectAsync(integrationKey: "jira", connectionId: "j1");
        await grid.ConnectAsync(connectionId: "c3");
        Assert.True(await grid.Connection("confluence", "c0").Delete(announce: true));

        using var resumed = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ResumeAfter = lastId }, deadline: Deadline());
        var missed = new List<ConnectionEvent>();
        for (var i = 0; i < 3; i++)
        {
            missed.Add(await GrpcClient.NextAsync(resumed.ResponseStream));
        }
        Assert.Equal(
            [(ConnectionEventType.Created, "c2"), (ConnectionEventType.Created, "c3"), (ConnectionEventType.Deleted, "c0")],
            missed.Select(e => (e.Type, e.ConnectionId)).ToList());
        // Then live events, without a repeat of any missed one.
        await grid.ConnectAsync(connectionId: "c4");
        var live = await GrpcClient.NextAsync(resumed.ResponseStream);
        Assert.Equal((ConnectionEventType.Created, "c4"), (live.Type, live.ConnectionId));
        Assert.Equal(5, missed.Append(live).Append(new ConnectionEvent { Id = lastId }).Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public async Task A_resume_id_whose_successors_are_no_longer_kept_is_out_of_range_not_a_silent_gap()
    {
        await using var grid = await GridCluster.StartAsync(settings => settings["Grid:Events:MaxPerTenant"] = "10");
        using var http = await grid.StartGatewayAsync();
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var grpc = client.Connections;
        await grid.ConnectAsync(connectionId: "c0");

        string firstId;
        using (var first = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence" }, deadline: Deadline()))
        {
            await first.ResponseHeadersAsync;
            await grid.ConnectAsync(connectionId: "c1");
            firstId = (await GrpcClient.NextAsync(first.ResponseStream)).Id;
        }
        // Eleven more events: the log keeps ten, so the one right after firstId is gone.
        for (var i = 2; i <= 12; i++)
        {
            await grid.ConnectAsync(connectionId: $"c{i}");
        }
        using var resumed = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ResumeAfter = firstId }, deadline: Deadline());
        var failure = await GrpcClient.FailureOf(() => resumed.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal((StatusCode.OutOfRange, "events_expired"), (failure.Code, failure.Reason));

    }

    [Fact]
    public async Task A_tenant_at_its_watcher_limit_gets_resource_exhausted_and_a_closed_watch_frees_its_place()
    {
        await using var grid = await GridCluster.StartAsync(settings => settings["Grid:Events:MaxWatchersPerTenant"] = "2");
        using var http = await grid.StartGatewayAsync();
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var grpc = client.Connections;
        await grid.ConnectAsync(connectionId: "c0");
        var integration = new WatchConnectionsRequest { ProviderConfigKey = "confluence" };

        using var first = grpc.WatchConnections(integration, deadline: Deadline());
        await first.ResponseHeadersAsync;
        var second = grpc.WatchConnections(integration, deadline: Deadline());
        await second.ResponseHeadersAsync;
        using (var third = grpc.WatchConnections(integration, deadline: Deadline()))
        {
            var failure = await GrpcClient.FailureOf(() => third.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal((StatusCode.ResourceExhausted, "too_many_watchers"), (failure.Code, failure.Reason));
        }
        // The watches in place are not disturbed.
        await grid.ConnectAsync(connectionId: "c1");
        Assert.Equal("c1", (await GrpcClient.NextAsync(first.ResponseStream)).ConnectionId);
        Assert.Equal("c1", (await GrpcClient.NextAsync(second.ResponseStream)).ConnectionId);

        // Closed by its client: the server unsubscribes it (asynchronously), and a new watch then takes its place.
        second.Dispose();
        for (var attempt = 0; ; attempt++)
        {
            using var again = grpc.WatchConnections(integration, deadline: Deadline());
            try
            {
                await again.ResponseHeadersAsync;
                await grid.ConnectAsync(connectionId: "c2");
                Assert.Equal("c2", (await GrpcClient.NextAsync(again.ResponseStream)).ConnectionId);
                break;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task A_deadline_shorter_than_a_slow_refresh_is_deadline_exceeded_and_the_refresh_still_lands()
    {
        await using var grid = await GridCluster.StartAsync();
        using var http = await grid.StartGatewayAsync();
        var (_, tokens) = await grid.ConnectAsync(connectionId: "slow", expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var request = new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "slow" };

        // The provider takes 3 s (real time; the grid's provider timeout is 5 s); the caller gives the call 500 ms.
        grid.Emulator.Enqueue(Fault.Latency(TimeSpan.FromSeconds(3)));
        var failure = await Assert.ThrowsAsync<RpcException>(() => client.Connections.GetTokenAsync(request, deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, failure.StatusCode);

        // Grpc.Net.Client gives up at the deadline on its own: a caller that only sends grpc-timeout (another language's
        // client, a proxy) must hear the server say DEADLINE_EXCEEDED too, while the refresh above still waits on the
        // slow provider (about 2.5 s more), not when it lands.
        var (status, elapsed) = await RawUnaryAsync(grid.GrpcAddress!, "GetToken", request.ToByteArray(), timeout: "500m");
        Assert.Equal("4", status);
        Assert.True(elapsed < TimeSpan.FromMilliseconds(2000), $"the server answered after {elapsed.TotalMilliseconds:N0} ms");

        // The grain finished its refresh for the next caller: one refresh at the provider, its token served, no breach.
        var token = await client.Connections.GetTokenAsync(request, deadline: Deadline());
        Assert.NotEqual(tokens.AccessToken, token.AccessToken);
        Assert.True(grid.Emulator.IsValidAccessToken(token.AccessToken));
        Assert.Equal(1, grid.Emulator.SuccessfulRefreshes);
        Assert.Equal(0, grid.Emulator.Breaches);
    }

    /// <summary>A unary call as bare HTTP/2 (no client-side deadline): the grpc-status the server sends, and when.</summary>
    private static async Task<(string? Status, TimeSpan Elapsed)> RawUnaryAsync(Uri address, string method, byte[] message, string timeout)
    {
        using var http = new HttpClient();
        var frame = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame, 5);
        using var call = new HttpRequestMessage(HttpMethod.Post, new Uri(address, $"connectiongrid.v1.Connections/{method}")) 
        {
            Content = new ByteArrayContent(frame),
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        call.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        call.Headers.TryAddWithoutValidation("te", "trailers");
        call.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        call.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GridCluster.SecretKey);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await http.SendAsync(call);
        await response.Content.ReadAsByteArrayAsync();
        // A status with no message goes in the headers ("trailers-only"); otherwise in the trailers.
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var trailer) ? trailer.First()
            : response.Headers.TryGetValues("grpc-status", out var header) ? header.First() : null;
        return (status, clock.Elapsed);
    }

    [Fact]
    public async Task A_revoked_grant_is_failed_precondition_and_its_watchers_are_told()
    {
        await using var grid = await GridCluster.StartAsync();
        using var http = await grid.StartGatewayAsync();
        var (_, tokens) = await grid.ConnectAsync(connectionId: "revoked", expiresAt: grid.Clock.GetUtcNow().AddMinutes(-1));
        grid.Emulator.RevokeFamilyOf(tokens.RefreshToken);
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        using var watch = client.Connections.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ConnectionId = "revoked" }, deadline: Deadline());
        await watch.ResponseHeadersAsync;

        var failure = await GrpcClient.FailureOf(() => client.Connections.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "revoked" }).ResponseAsync);
        Assert.Equal((StatusCode.FailedPrecondition, "connection_reauth_required"), (failure.Code, failure.Reason));
        Assert.DoesNotContain(tokens.RefreshToken, failure.Exception.ToString());

        var failed = await GrpcClient.NextAsync(watch.ResponseStream);
        Assert.Equal(ConnectionEventType.RefreshFailed, failed.Type);
        Assert.False(string.IsNullOrEmpty(failed.ErrorCode));
        var reauth = await GrpcClient.NextAsync(watch.ResponseStream);
        Assert.Equal(ConnectionEventType.ReauthRequired, reauth.Type);
    }

    [Fact]
    public async Task A_tenant_over_its_rate_limit_is_resource_exhausted_with_a_retry_delay()
    {
        await using var grid = await GridCluster.StartAsync();
        using var http = await grid.StartGatewayAsync(new Dictionary<string, string?>
        {
            ["Grid:RateLimits:PerTenantPerSecond"] = "1",
            ["Grid:RateLimits:PerTenantBurst"] = "1",
        });
        await grid.ConnectAsync(connectionId: "limited");
        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var request = new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "limited" };

        // Six calls at once against a bucket of one that refills once a second: most are refused.
        var calls = Enumerable.Range(0, 6).Select(_ => client.Connections.GetTokenAsync(request, deadline: Deadline()).ResponseAsync).ToList();
        var refused = new List<RpcException>();
        foreach (var call in calls)
        {
            try
            {
                await call;
            }
            catch (RpcException e)
            {
                refused.Add(e);
            }
        }
        Assert.InRange(refused.Count, 4, 6);
        foreach (var e in refused)
        {
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            var status = e.GetRpcStatus()!;
            Assert.Equal("rate_limit_exceeded", status.GetDetail<Google.Rpc.ErrorInfo>()!.Reason);
            Assert.True(status.GetDetail<Google.Rpc.RetryInfo>()!.RetryDelay.Seconds >= 1);
        }
    }
}
