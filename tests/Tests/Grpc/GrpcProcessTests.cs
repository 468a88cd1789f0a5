using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Grpc.V1;
using GrpcConnections = ConnectionGrid.Grpc.V1.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.EndToEnd;
using ConnectionGrid.Tests.Infrastructure;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace ConnectionGrid.Tests.Grpc;

/// <summary>The real Silo process serving gRPC on its own port, the emulated Atlassian behind it; keys made through the operator API.</summary>
public sealed class GrpcProcessFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public AtlassianEmulator Emulator { get; private set; } = null!;

    public SiloProcess Silo { get; private set; } = null!;

    public Uri Grpc => Silo.GrpcAddress!;

    public string TokensReadKey { get; private set; } = "";

    public string ConnectionsReadKey { get; private set; } = "";

    public string OtherTenantKey { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        Emulator = await AtlassianEmulator.StartAsync();
        Silo = new SiloProcess(_directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = Emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = Emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = Emulator.ApiBaseUrl,
            ["Grid:RateLimits:AuthFailuresPerMinute"] = "0",
        });
        Silo.EnableGrpc();
        await Silo.StartAsync();
        TokensReadKey = await CreateKeyAsync("tokens:read");
        ConnectionsReadKey = await CreateKeyAsync("connections:read");
        OtherTenantKey = await Silo.CreateTenantAsync("other-tenant");
    }

    private async Task<string> CreateKeyAsync(string scope)
    {
        using var admin = Silo.CreateAdminClient();
        var created = await admin.PostAsJsonAsync($"admin/tenants/{SiloProcess.Tenant}/keys", new { scopes = new[] { scope } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>();
    }

    public GrpcClient Client(string? key = SiloProcess.SecretKey) => new(Grpc, key);

    /// <summary>An integration with the emulator's app, and a connection imported over HTTP with a consented token family.</summary>
    public async Task<IssuedTokens> ConnectAsync(string connectionId, DateTimeOffset? expiresAt = null)
    {
        using var http = Silo.CreateClient();
        return await http.ImportConsentedAsync(Emulator, "confluence", connectionId, expiresAt ?? DateTimeOffset.UtcNow.AddHours(1));
    }

    public async ValueTask DisposeAsync()
    {
        await Silo.DisposeAsync();
        await Emulator.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>
/// The gRPC contract against the real Silo process (SQLite, or PostgreSQL with GRID_TEST_STORAGE=postgresql): every
/// RPC, keys and scopes, tenant isolation and bad input, with the statuses and error codes the README lists.
/// </summary>
public sealed class GrpcProcessTests(GrpcProcessFixture grid) : IClassFixture<GrpcProcessFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Every_rpc_works_against_the_silo_process()
    {
        await grid.ConnectAsync("rpc-existing");
        using var client = grid.Client();
        var grpc = client.Connections;

        // Imported over gRPC with a token that has expired: getting it refreshes at the provider first, as over HTTP.
        var consented = grid.Emulator.Consent();
        var imported = await grpc.ImportConnectionAsync(new ImportConnectionRequest
        {
            ProviderConfigKey = "confluence",
            ConnectionId = "rpc-imported",
            AccessToken = consented.AccessToken,
            RefreshToken = consented.RefreshToken,
            ExpiresAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-5)),
            Metadata = Struct.Parser.ParseJson("""{"plan":"gold"}"""),
            Tags = { ["team"] = "billing" },
        });
        Assert.Equal("rpc-imported", imported.ConnectionId);
        Assert.Equal("confluence", imported.ProviderConfigKey);
        Assert.Equal("gold", imported.Metadata.Fields["plan"].StringValue);
        Assert.DoesNotContain(consented.AccessToken, imported.ToString());

        var refreshes = grid.Emulator.SuccessfulRefreshes;
        var token = await grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }, deadline: Deadline());
        Assert.NotEqual(consented.AccessToken, token.AccessToken);
        Assert.True(grid.Emulator.IsValidAccessToken(token.AccessToken));
        Assert.Equal(refreshes + 1, grid.Emulator.SuccessfulRefreshes);
        Assert.True(token.ExpiresAt.ToDateTimeOffset() > DateTimeOffset.UtcNow);
        // Fresh now: the next call is served without the provider.
        var again = await grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }, deadline: Deadline());
        Assert.Equal(token.AccessToken, again.AccessToken);
        Assert.Equal(refreshes + 1, grid.Emulator.SuccessfulRefreshes);

        var connection = await grpc.GetConnectionAsync(new GetConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }, deadline: Deadline());
        Assert.Equal("active", connection.Status);
        Assert.Equal("billing", connection.Tags["team"]);
        Assert.DoesNotContain(token.AccessToken, connection.ToString());

        // Pages of one: both connections, each once, and the last page says it is the last.
        var seen = new List<string>();
        var pageToken = "";
        for (var page = 0; page < 10; page++)
        {
            var list = await grpc.ListConnectionsAsync(new ListConnectionsRequest { ProviderConfigKey = "confluence", PageSize = 1, PageToken = pageToken }, deadline: Deadline());
            seen.AddRange(list.Connections.Select(c => c.ConnectionId));
            pageToken = list.NextPageToken;
            if (pageToken.Length == 0)
            {
                break;
            }
        }
        Assert.Contains("rpc-imported", seen);
        Assert.Contains("rpc-existing", seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal("", pageToken);

        // A watcher of the connection sees it deleted.
        using var watch = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }, deadline: Deadline());
        // The response headers come once the watch is in place: everything after them is delivered.
        await watch.ResponseHeadersAsync;
        await grpc.DeleteConnectionAsync(new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }, deadline: Deadline());
        var deleted = await GrpcClient.NextAsync(watch.ResponseStream);
        Assert.Equal(ConnectionEventType.Deleted, deleted.Type);
        Assert.Equal("rpc-imported", deleted.ConnectionId);

        var gone = await GrpcClient.FailureOf(() => grpc.GetConnectionAsync(new GetConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, "unknown_connection"), (gone.Code, gone.Reason));
        var deletedTwice = await GrpcClient.FailureOf(() => grpc.DeleteConnectionAsync(new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "rpc-imported" }).ResponseAsync);
        Assert.Equal((StatusCode.NotFound, "unknown_connection"), (deletedTwice.Code, deletedTwice.Reason));

        // Nothing secret in what the process wrote (its logs at Information).
        foreach (var secret in new[] { consented.AccessToken, consented.RefreshToken, token.AccessToken, SiloProcess.SecretKey })
        {
            Assert.DoesNotContain(secret, grid.Silo.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Another_tenants_key_finds_nothing_of_this_tenant()
    {
        var tokens = await grid.ConnectAsync("isolated");
        using var other = grid.Client(grid.OtherTenantKey);
        var grpc = other.Connections;

        foreach (var call in new Func<Task>[]
        {
            () => grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "isolated" }).ResponseAsync,
            () => grpc.GetConnectionAsync(new GetConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "isolated" }).ResponseAsync,
            () => grpc.DeleteConnectionAsync(new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "isolated" }).ResponseAsync,
        })
        {
            var failure = await GrpcClient.FailureOf(call);
            Assert.Equal((StatusCode.NotFound, "unknown_connection"), (failure.Code, failure.Reason));
            Assert.DoesNotContain(tokens.AccessToken, failure.Exception.ToString());
        }
        var watch = await GrpcClient.FailureOf(async () =>
        {
            using var call = grpc.WatchConnections(new WatchConnectionsRequest { ProviderConfigKey = "confluence", ConnectionId = "isolated" });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.Equal((StatusCode.NotFound, "unknown_connection"), (watch.Code, watch.Reason));
        var list = await grpc.ListConnectionsAsync(new ListConnectionsRequest(), deadline: Deadline());
        Assert.DoesNotContain(list.Connections, c => c.ConnectionId == "isolated");

        // Still there for its own tenant, with the same token: the other tenant's delete touched nothing.
        using var own = grid.Client();
        var token = await own.Connections.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "isolated" }, deadline: Deadline());
        Assert.Equal(tokens.AccessToken, token.AccessToken);
    }

    [Fact]
    public async Task Each_key_scope_opens_the_methods_the_http_api_opens_to_it()
    {
        await grid.ConnectAsync("scoped");
        var get = new GetConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "scoped" };
        var getToken = new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "scoped" };
        var import = new ImportConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "scoped-2", AccessToken = "at" };
        var delete = new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "scoped" };

        using (var tokensRead = grid.Client(grid.TokensReadKey))
        {
            var grpc = tokensRead.Connections;
            Assert.False(string.IsNullOrEmpty((await grpc.GetTokenAsync(getToken, deadline: Deadline())).AccessToken));
            foreach (var call in new Func<Task>[]
            {
                () => grpc.GetConnectionAsync(get).ResponseAsync,
                () => grpc.ListConnectionsAsync(new ListConnectionsRequest()).ResponseAsync,
                () => grpc.ImportConnectionAsync(import).ResponseAsync,
                () => grpc.DeleteConnectionAsync(delete).ResponseAsync,
                () => FirstEventAsync(grpc, new WatchConnectionsRequest { ProviderConfigKey = "confluence" }),
            })
            {
                var failure = await GrpcClient.FailureOf(call);
                Assert.Equal((StatusCode.PermissionDenied, "insufficient_scope"), (failure.Code, failure.Reason));
            }
        }

        using (var connectionsRead = grid.Client(grid.ConnectionsReadKey))
        {
            var grpc = connectionsRead.Connections;
            Assert.Equal("scoped", (await grpc.GetConnectionAsync(get, deadline: Deadline())).ConnectionId);
            Assert.Contains((await grpc.ListConnectionsAsync(new ListConnectionsRequest(), deadline: Deadline())).Connections, c => c.ConnectionId == "scoped");
            foreach (var call in new Func<Task>[]
            {
                () => grpc.GetTokenAsync(getToken).ResponseAsync,
                () => grpc.ImportConnectionAsync(import).ResponseAsync,
                () => grpc.DeleteConnectionAsync(delete).ResponseAsync,
            })
            {
                var failure = await GrpcClient.FailureOf(call);
                Assert.Equal((StatusCode.PermissionDenied, "insufficient_scope"), (failure.Code, failure.Reason));
            }
        }

        using var anonymous = grid.Client(key: null);
        var missing = await GrpcClient.FailureOf(() => anonymous.Connections.GetTokenAsync(getToken).ResponseAsync);
        Assert.Equal((StatusCode.Unauthenticated, "missing_auth_header"), (missing.Code, missing.Reason));
        using var wrong = grid.Client("cg_sk_not_a_real_key_0123456789abcdef");
        var invalid = await GrpcClient.FailureOf(() => wrong.Connections.GetTokenAsync(getToken).ResponseAsync);
        Assert.Equal((StatusCode.Unauthenticated, "unknown_account"), (invalid.Code, invalid.Reason));
        Assert.DoesNotContain("cg_sk_not_a_real_key", invalid.Exception.ToString());

        // The connection is untouched by the refused delete.
        using var full = grid.Client();
        Assert.Equal("scoped", (await full.Connections.GetConnectionAsync(get, deadline: Deadline())).ConnectionId);
    }

    [Fact]
    public async Task Bad_input_is_invalid_argument_with_the_http_apis_error_codes()
    {
        using var client = grid.Client();
        var grpc = client.Connections;
        var tooLong = new string('a', 256);
        var cases = new (Func<Task> Call, string Reason)[]
        {
            (() => grpc.GetTokenAsync(new GetTokenRequest { ConnectionId = "x" }).ResponseAsync, "missing_provider_config_key"),
            (() => grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence" }).ResponseAsync, "invalid_connection_id"),
            (() => grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = tooLong }).ResponseAsync, "invalid_connection_id"),
            (() => grpc.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "not a key!", ConnectionId = "x" }).ResponseAsync, "invalid_provider_config_key"),
            (() => grpc.GetConnectionAsync(new GetConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "" }).ResponseAsync, "invalid_connection_id"),
            (() => grpc.DeleteConnectionAsync(new DeleteConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "-leading-dash" }).ResponseAsync, "invalid_connection_id"),
            (() => grpc.ImportConnectionAsync(new ImportConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = "x" }).ResponseAsync, "invalid_credentials"),
            (() => grpc.ImportConnectionAsync(new ImportConnectionRequest { ProviderConfigKey = "confluence", ConnectionId = tooLong, AccessToken = "at" }).ResponseAsync, "invalid_connection_id"),
            (() => grpc.ListConnectionsAsync(new ListConnectionsRequest { PageToken = "garbage" }).ResponseAsync, "invalid_page_token"),
            (() => grpc.ListConnectionsAsync(new ListConnectionsRequest { PageToken = "o-1" }).ResponseAsync, "invalid_page_token"),
            (() => grpc.ListConnectionsAsync(new ListConnectionsRequest { PageToken = "o3", PageSize = 2 }).ResponseAsync, "invalid_page_token"),
            (() => grpc.ListConnectionsAsync(new ListConnectionsRequest { PageSize = 1001 }).ResponseAsync, "invalid_query_params"),
            (() => grpc.ListConnectionsAsync(new ListConnectionsRequest { PageSize = -1 }).ResponseAsync, "invalid_query_params"),
            (() => FirstEventAsync(grpc, new WatchConnectionsRequest()), "missing_provider_config_key"),
            (() => FirstEventAsync(grpc, new WatchConnectionsRequest { ProviderConfigKey = "confluence", ResumeAfter = "not-an-id" }), "invalid_resume_id"),
        };
        foreach (var (call, reason) in cases)
        {
            var failure = await GrpcClient.FailureOf(call);
            Assert.Equal((StatusCode.InvalidArgument, reason), (failure.Code, failure.Reason));
        }

        // A well-formed id of an epoch this log never had: its events cannot be vouched for.
        await grid.ConnectAsync("watched");
        var stale = await GrpcClient.FailureOf(() => FirstEventAsync(grpc, new WatchConnectionsRequest { ProviderConfigKey = "confluence", ResumeAfter = "0123abcd-5" }));
        Assert.Equal((StatusCode.OutOfRange, "events_expired"), (stale.Code, stale.Reason));
    }

    [Fact]
    public async Task Reflection_lists_the_service_and_health_answers_serving()
    {
        using var client = grid.Client(key: null);
        var reflection = new ServerReflection.ServerReflectionClient(client.Channel);
        using var call = reflection.ServerReflectionInfo(deadline: Deadline());
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("connectiongrid.v1.Connections", services);
        Assert.Contains("grpc.health.v1.Health", services);

        var health = new Health.HealthClient(client.Channel);
        var answer = await health.CheckAsync(new HealthCheckRequest(), deadline: Deadline());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, answer.Status);

        // The HTTP API still answers on its own port, HTTP/1.1 as before.
        using var http = grid.Silo.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
    }

    private static DateTime Deadline() => DateTime.UtcNow.Add(Bound);

    private static async Task FirstEventAsync(GrpcConnections.ConnectionsClient grpc, WatchConnectionsRequest request)
    {
        using var call = grpc.WatchConnections(request, deadline: Deadline());
        await call.ResponseStream.MoveNext(CancellationToken.None);
    }

    [Fact]
    public async Task A_grpc_port_that_is_the_http_port_stops_start_up_with_a_configuration_error()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        silo.Configure("Grid:Grpc:Port", silo.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ConfigurationErrorTests.AssertOneConfigurationError(await silo.StartExpectingExitAsync(), silo,
            $"Grid:Grpc:Port ({silo.Port}) is the HTTP API's port too: gRPC needs a port of its own.");
    }
}
