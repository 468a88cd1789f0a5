using ConnectionGrid.Grpc.V1;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;
using Google.Rpc;
using Grpc.Core;

namespace ConnectionGrid.Tests.Grpc;

/// <summary>gRPC served by the separate gateway process (src/Gateway) in front of a silo on PostgreSQL.</summary>
public sealed class GrpcGatewayProcessTests
{
    private const string PostgresOnly = "A separate gateway needs PostgreSQL; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task The_gateway_serves_get_token_and_answers_unavailable_with_a_retry_delay_when_no_silo_is_up()
    {
        var database = TestStorage.CreateDatabase();
        await using var emulator = await AtlassianEmulator.StartAsync();
        using var siloDirectory = new TempDirectory();
        using var gatewayDirectory = new TempDirectory();
        await using var silo = ClusterNodes.Silo(siloDirectory.Path, database, emulator);
        await silo.StartAsync();
        await using var gateway = ClusterNodes.Gateway(gatewayDirectory.Path, database, new Dictionary<string, string>
        {
            ["Grid:Gateway:CallTimeout"] = "00:00:03",
        });
        gateway.EnableGrpc();
        await gateway.StartAsync();

        using var http = gateway.CreateClient();
        var tokens = await http.ImportConsentedAsync(emulator, "confluence", "through-gateway", DateTimeOffset.UtcNow.AddHours(1));
        using var client = new GrpcClient(gateway.GrpcAddress!, SiloProcess.SecretKey);
        var request = new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "through-gateway" };
        var token = await client.Connections.GetTokenAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(tokens.AccessToken, token.AccessToken);

        // No silo: a retryable UNAVAILABLE within the gateway's call deadline, as the HTTP API's 503 with Retry-After.
        await silo.KillAsync();
        var failure = await GrpcClient.FailureOf(() => client.Connections.GetTokenAsync(request, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
        Assert.Equal((StatusCode.Unavailable, "grid_unavailable"), (failure.Code, failure.Reason));
        Assert.True(failure.Exception.GetRpcStatus()!.GetDetail<RetryInfo>()!.RetryDelay.Seconds > 0);
        Assert.DoesNotContain("Unhandled", gateway.Output, StringComparison.Ordinal);
    }
}
