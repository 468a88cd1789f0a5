using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

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
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail("storage_integrity_error",
                "The grid's stored data for this request failed its integrity check (it was altered or moved in the database) and is not served; the grid's operator must restore it.")), cancellationToken);
            return true;
        }
        // Stored data the key ring cannot open: the operator must restore a key. The log names the key id (never key
        // material); the caller learns only that the grid cannot serve it, not how the operator's keys are named.
        if (Find<System.Security.Cryptography.CryptographicException>(exception) is { } crypto)
        {
            LogUndecryptable(logger, context.Request.Path, crypto.Message);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail("storage_key_unavailable",
                "The grid cannot decrypt this stored data; its operator must restore the encryption key it was written with.")), cancellationToken);
            return true;
        }
        var (status, code, message) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (413, "payload_too_large", "The request body is too large."),
            BadHttpRequestException { InnerException: JsonException json } =>
                (400, "invalid_body", $"The request body is not valid JSON for this endpoint{Where(json)}."),
            BadHttpRequestException bad => (bad.StatusCode, "invalid_request", "The request could not be read: " + bad.Message),
            JsonException json => (400, "invalid_body", $"The request body is not valid JSON for this endpoint{Where(json)}."),
            _ => (500, "server_error", "An unexpected error occurred."),
        };
        if (status >= 500)
        {
            LogUnhandled(logger, exception.GetType().Name, context.Request.Path);
        }
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail(code, message)), cancellationToken);
        return true;
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

    // JSON paths name the offending field without echoing its value (which could be a secret).
    private static string Where(JsonException json) => json.Path is { Length: > 0 } path ? $" (at {path})" : "";

    [LoggerMessage(LogLevel.Critical, "Stored data on {Path} cannot be decrypted: {Reason}")]
    private static partial void LogUndecryptable(ILogger logger, string path, string reason);

    [LoggerMessage(LogLevel.Critical, "Stored data on {Path} failed its integrity check: {Reason}")]
    private static partial void LogIntegrityFailure(ILogger logger, string path, string reason);

    [LoggerMessage(LogLevel.Error, "Unhandled {Exception} on {Path}")]
    private static partial void LogUnhandled(ILogger logger, string exception, string path);
}
