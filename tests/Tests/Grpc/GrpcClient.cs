using ConnectionGrid.Grpc.V1;
using GrpcConnections = ConnectionGrid.Grpc.V1.Connections;
using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace ConnectionGrid.Tests.Grpc;

/// <summary>A Grpc.Net.Client channel to the grid's gRPC port (h2c), sending a tenant key the way any client does.</summary>
public sealed class GrpcClient : IDisposable
{
    private readonly GrpcChannel _channel;

    public GrpcClient(Uri address, string? secretKey)
    {
        _channel = GrpcChannel.ForAddress(address);
        var invoker = secretKey is null ? _channel.CreateCallInvoker() : _channel.Intercept(metadata =>
        {
            metadata.Add("authorization", $"Bearer {secretKey}");
            return metadata;
        });
        Connections = new GrpcConnections.ConnectionsClient(invoker);
    }

    public GrpcConnections.ConnectionsClient Connections { get; }

    public GrpcChannel Channel => _channel;

    public void Dispose() => _channel.Dispose();

    /// <summary>The call's failure: its status code and the grid's error code (ErrorInfo.reason).</summary>
    public static async Task<(StatusCode Code, string? Reason, RpcException Exception)> FailureOf(Func<Task> call)
    {
        var exception = await Assert.ThrowsAsync<RpcException>(call);
        var status = exception.GetRpcStatus();
        var info = status?.GetDetail<ErrorInfo>();
        if (info is not null)
        {
            Assert.Equal("connectiongrid", info.Domain);
        }
        return (exception.StatusCode, info?.Reason, exception);
    }

    /// <summary>Reads the next event of a stream, failing the test if none comes within <paramref name="within"/> (a bound, not a timing assertion).</summary>
    public static async Task<ConnectionEvent> NextAsync(IAsyncStreamReader<ConnectionEvent> stream, TimeSpan? within = null)
    {
        using var limit = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(30));
        Assert.True(await stream.MoveNext(limit.Token), "the stream ended");
        return stream.Current;
    }
}
