using System.Text;
using ConnectionGrid.Gateway.Errors;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Status = Google.Rpc.Status;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// The HTTP API's errors as gRPC statuses: the status code follows the HTTP status (and, where gRPC distinguishes
/// more, the error code), and the details carry a <c>google.rpc.ErrorInfo</c> whose reason is the HTTP API's
/// <c>error.code</c>, plus a <c>google.rpc.RetryInfo</c> when the call can succeed later. One table, so the two APIs
/// cannot drift apart.
/// </summary>
public static class GrpcErrors
{
    public const string Domain = "connectiongrid";

    /// <summary>A gRPC call: HTTP/2 and gRPC's content type (an HTTP/1.1 request claiming it still gets the JSON errors).</summary>
    public static bool IsGrpcRequest(HttpContext context) =>
        HttpProtocol.IsHttp2(context.Request.Protocol)
        && context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    public static StatusCode CodeOf(int httpStatus, string errorCode) => (httpStatus, errorCode) switch
    {
        (_, "connection_reauth_required" or "integration_incomplete") => StatusCode.FailedPrecondition,
        (_, "storage_integrity_error") => StatusCode.DataLoss,
        (_, "events_expired") => StatusCode.OutOfRange,
        (StatusCodes.Status400BadRequest or StatusCodes.Status413PayloadTooLarge or StatusCodes.Status415UnsupportedMediaType, _) => StatusCode.InvalidArgument,
        (StatusCodes.Status401Unauthorized, _) => StatusCode.Unauthenticated,
        (StatusCodes.Status403Forbidden, _) => StatusCode.PermissionDenied,
        (StatusCodes.Status404NotFound, _) => StatusCode.NotFound,
        (StatusCodes.Status409Conflict, _) => StatusCode.Aborted,
        (StatusCodes.Status429TooManyRequests, _) => StatusCode.ResourceExhausted,
        (StatusCodes.Status424FailedDependency or StatusCodes.Status503ServiceUnavailable, _) => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };

    public static Status StatusOf(int httpStatus, ErrorDetail error, TimeSpan? retryAfter)
    {
        var status = new Status { Code = (int)CodeOf(httpStatus, error.Code), Message = error.Message };
        status.Details.Add(Any.Pack(new ErrorInfo { Reason = error.Code, Domain = Domain }));
        if (retryAfter is { } after)
        {
            // Whole seconds, at least one, as Retry-After says over HTTP.
            var seconds = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds));
            status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = new Duration { Seconds = seconds } }));
        }
        return status;
    }

    public static RpcException ToRpcException(this ApiError error, TimeProvider clock) =>
        StatusOf(error.StatusCode, error.Value.Error, error.RetryAt is { } at ? at - clock.GetUtcNow() : null).ToRpcException();

    public static RpcException Exception(int httpStatus, string code, string message, TimeSpan? retryAfter = null) =>
        StatusOf(httpStatus, new ErrorDetail(code, message), retryAfter).ToRpcException();

    /// <summary>
    /// Answers a gRPC request from middleware (authentication, scopes, rate limits) before it reaches the service: a
    /// "trailers-only" response, the status in the headers and no message.
    /// </summary>
    public static Task WriteAsync(HttpContext context, int httpStatus, ErrorDetail error, TimeSpan? retryAfter)
    {
        var status = StatusOf(httpStatus, error, retryAfter);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = status.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(status.Message);
        response.Headers["grpc-status-details-bin"] = Convert.ToBase64String(status.ToByteArray());
        return response.CompleteAsync();
    }

    /// <summary>Like <see cref="WriteAsync(HttpContext,int,ErrorDetail,TimeSpan?)"/>, with Retry-After counted on the request's clock.</summary>
    public static Task WriteAsync(HttpContext context, ApiError error)
    {
        var clock = context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
        return WriteAsync(context, error.StatusCode, error.Value.Error, error.RetryAt is { } at ? at - clock.GetUtcNow() : null);
    }

    // grpc-message is percent-encoded UTF-8 (the gRPC over HTTP/2 spec): printable ASCII but '%' as is.
    private static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }
}
