using ConnectionGrid.Gateway.Errors;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// What a handler throws, as the HTTP API's exception handler answers it: no silo reachable is UNAVAILABLE
/// (<c>grid_unavailable</c>, retry in 5 s), so is a database that cannot be reached (<c>storage_unavailable</c>), stored data that cannot be opened is said so without detail, anything else
/// is INTERNAL with nothing of the internals. A call past its deadline or cancelled by its client is left to gRPC.
/// </summary>
public sealed partial class GrpcExceptionInterceptor(ILogger<GrpcExceptionInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e) when (Translate(e, context) is { } translated)
        {
            throw translated;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (Translate(e, context) is { } translated)
        {
            throw translated;
        }
    }

    private RpcException? Translate(Exception exception, ServerCallContext context)
    {
        if (exception is RpcException || (exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested))
        {
            return null;
        }
        if (Find<Encryption.StorageIntegrityException>(exception) is not null)
        {
            return GrpcErrors.Exception(StatusCodes.Status503ServiceUnavailable, "storage_integrity_error",
                "The grid's stored data for this request failed its integrity check (it was altered or moved in the database) and is not served; the grid's operator must restore it.");
        }
        if (Find<System.Security.Cryptography.CryptographicException>(exception) is not null)
        {
            LogUndecryptable(logger, context.Method);
            return GrpcErrors.Exception(StatusCodes.Status503ServiceUnavailable, "storage_key_unavailable",
                "The grid cannot decrypt this stored data; its operator must restore the encryption key it was written with.");
        }
        if (ApiExceptionHandler.IsUnavailable(exception))
        {
            LogUnavailable(logger, context.Method, exception.GetType().Name);
            return GrpcErrors.Exception(StatusCodes.Status503ServiceUnavailable, "grid_unavailable",
                "The grid cannot reach its silos right now; retry after the delay in the RetryInfo.", ApiExceptionHandler.RetryAfter);
        }
        // The database is unreachable (stopped, restarting, a connection cut): the same call succeeds once it is back.
        if (ApiExceptionHandler.IsStorageUnavailable(exception))
        {
            LogStorageUnavailable(logger, context.Method, exception.GetType().Name);
            return GrpcErrors.Exception(StatusCodes.Status503ServiceUnavailable, "storage_unavailable",
                "The grid's database cannot be reached right now; retry after the delay in the RetryInfo.", ApiErrors.StorageRetryAfter);
        }
        LogUnhandled(logger, exception.GetType().Name, context.Method);
        return GrpcErrors.Exception(StatusCodes.Status500InternalServerError, "server_error", "An unexpected error occurred.");
    }

    private static T? Find<T>(Exception? exception) where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T found)
            {
                return found;
            }
        }
        return null;
    }

    [LoggerMessage(LogLevel.Critical, "Stored data on {Method} cannot be decrypted")]
    private static partial void LogUndecryptable(ILogger logger, string method);

    [LoggerMessage(LogLevel.Warning, "No silo answered for {Method} ({Exception}): UNAVAILABLE")]
    private static partial void LogUnavailable(ILogger logger, string method, string exception);

    [LoggerMessage(LogLevel.Warning, "The database was unreachable for {Method} ({Exception}): UNAVAILABLE")]
    private static partial void LogStorageUnavailable(ILogger logger, string method, string exception);

    [LoggerMessage(LogLevel.Error, "Unhandled {Exception} on {Method}")]
    private static partial void LogUnhandled(ILogger logger, string exception, string method);
}
