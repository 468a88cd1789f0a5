using System.Text.Json;
using ConnectionGrid.Gateway.Requests;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>
/// Turns what the framework throws on a client's bad request (malformed JSON, wrong types, a body too large) into a
/// JSON 4xx, and anything else into a JSON 500 that says nothing about the internals.
/// </summary>
public sealed partial class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        // Stored data that fails its integrity check (altered, or copied from another row): never served, and no key
        // the operator restores would change that. The log names the row (never its content); the caller learns only that.
        if (Find<ConnectionGrid.Encryption.StorageIntegrityException>(exception) is { } integrity)
        {
            LogIntegrityFailure(logger, context.Request.Path, integrity.Message);
            // 503, not 500: a classified failure of what the database holds, like a missing key; no Retry-After, since
            // waiting does not help.
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail("storage_integrity_error",
                "The grid's stored data for this request failed its integrity check (it was altered or moved in the database) and is not served; the grid's operator must restore it."), null, cancellationToken);
            return true;
        }
        // Stored data the key ring cannot open: the operator must restore a key. The log names the key id (never key
        // material); the caller learns only that the grid cannot serve it, not how the operator's keys are named.
        if (Find<System.Security.Cryptography.CryptographicException>(exception) is { } crypto)
        {
            LogUndecryptable(logger, context.Request.Path, crypto.Message);
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail("storage_key_unavailable",
                "The grid cannot decrypt this stored data; its operator must restore the encryption key it was written with."), null, cancellationToken);
            return true;
        }
        // No silo answered in time (a separate gateway while silos come and go, or a call that timed out): retryable.
        // Checked before the rest, so a caller never waits past the grain call's deadline and never sees a 500 for it.
        if (IsUnavailable(exception))
        {
            LogUnavailable(logger, context.Request.Path, exception.GetType().Name);
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail("grid_unavailable",
                "The grid cannot reach its silos right now; retry after the delay in Retry-After."), RetryAfter, cancellationToken);
            return true;
        }
        // The database is unreachable (stopped, restarting, a connection cut): the call did not happen or did not land,
        // and the same call succeeds once it is back. The driver's message (socket paths, hosts) stays in the log.
        if (IsStorageUnavailable(exception))
        {
            LogStorageUnavailable(logger, context.Request.Path, exception.GetType().Name);
            // Through WriteAsync: a gRPC call whose key lookup failed gets UNAVAILABLE with a RetryInfo, not a JSON body.
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new ErrorDetail("storage_unavailable",
                "The grid's database cannot be reached right now; retry after the delay in Retry-After."), ApiErrors.StorageRetryAfter, cancellationToken);
            return true;
        }
        // The framework's own messages (parameter names, .NET types, JSON paths) never reach the caller: each case gets
        // the grid's words, naming at most a field of the endpoint's request type.
        var (status, code, message) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (413, "payload_too_large", "The request body is too large."),
            BadHttpRequestException { StatusCode: StatusCodes.Status415UnsupportedMediaType } =>
                (415, "unsupported_media_type", "Send the body as application/json."),
            BadHttpRequestException { InnerException: JsonException json } => (400, "invalid_body", Misfit(context, json)),
            BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } when !HasBody(context.Request) =>
                (400, "missing_body", "This endpoint needs a JSON object as the request body."),
            BadHttpRequestException bad => (bad.StatusCode, "invalid_request", "The request could not be read."),
            JsonException json => (400, "invalid_body", Misfit(context, json)),
            _ => (500, "server_error", "An unexpected error occurred."),
        };
        if (status >= 500)
        {
            LogUnhandled(logger, exception.GetType().Name, context.Request.Path);
        }
        await WriteAsync(context, status, new ErrorDetail(code, message), null, cancellationToken);
        return true;
    }

    // A gRPC call that failed before its service ran (a key lookup no silo answered) gets the same error as a gRPC status.
    private static Task WriteAsync(HttpContext context, int status, ErrorDetail error, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        if (Grpc.GrpcErrors.IsGrpcRequest(context))
        {
            return Grpc.GrpcErrors.WriteAsync(context, status, error, retryAfter);
        }
        context.Response.StatusCode = status;
        if (retryAfter is { } after)
        {
            context.Response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(after);
        }
        return context.Response.WriteAsJsonAsync(new ErrorBody(error), cancellationToken);
    }

    /// <summary>What a caller waits before retrying a request no silo could take.</summary>
    public const string RetryAfterSeconds = "5";

    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(int.Parse(RetryAfterSeconds, System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The Orleans failures that mean "no silo reachable now", not a fault of the request or of the grid's data.</summary>
    public static bool IsUnavailable(Exception exception) =>
        Find<OrleansMessageRejectionException>(exception) is not null // SiloUnavailableException among them
        || Find<Orleans.Runtime.Messaging.ConnectionFailedException>(exception) is not null
        || Find<GatewayTooBusyException>(exception) is not null
        || Find<TimeoutException>(exception) is not null;

    /// <summary>
    /// A database failure that passes by itself (the driver says so: a connection refused or cut, the server shutting
    /// down or starting), however deep Orleans wrapped it (a storage provider's failure keeps the driver's exception
    /// inside). Anything else the database refuses (a constraint, a syntax error) is a fault of the grid: still a 500.
    /// </summary>
    public static bool IsStorageUnavailable(Exception exception) =>
        Find<System.Data.Common.DbException>(exception) is { IsTransient: true };

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

    // A well-formed body (the body rules have passed) that the endpoint's type cannot take. The path is the framework's
    // and may hold names the client made up: only the endpoint's own field names are shown.
    private static string Misfit(HttpContext context, JsonException json)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        // The exception handler clears the request's endpoint before it runs; its feature keeps it.
        var endpoint = context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint();
        var field = BodyFields.Describe(endpoint, options, json.Path);
        return $"The request body does not fit this endpoint: a field{(field is null ? "" : $" ('{field}')")} has the wrong type, or is not one it takes.";
    }

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength is > 0 || (request.ContentLength is null && request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);

    [LoggerMessage(LogLevel.Critical, "Stored data on {Path} cannot be decrypted: {Reason}")]
    private static partial void LogUndecryptable(ILogger logger, string path, string reason);

    // Debug: the silo logs the refused row at Error once per activation; a line per request would let a client that
    // repeats a request fill the disk.
    [LoggerMessage(LogLevel.Debug, "Stored data on {Path} failed its integrity check: {Reason}")]
    private static partial void LogIntegrityFailure(ILogger logger, string path, string reason);

    [LoggerMessage(LogLevel.Warning, "No silo answered for {Path} ({Exception}): 503")]
    private static partial void LogUnavailable(ILogger logger, string path, string exception);

    [LoggerMessage(LogLevel.Warning, "The database was unreachable for {Path} ({Exception}): 503")]
    private static partial void LogStorageUnavailable(ILogger logger, string path, string exception);

    [LoggerMessage(LogLevel.Error, "Unhandled {Exception} on {Path}")]
    private static partial void LogUnhandled(ILogger logger, string exception, string path);
}
