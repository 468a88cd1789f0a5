using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>
/// An error answer of the API: a status and <see cref="ErrorBody"/>, with <c>Retry-After</c> when the problem will
/// pass. The one error type of every handler's <c>Results&lt;…&gt;</c>; the statuses a route can answer are declared on
/// the route (<see cref="ErrorResponses.ProducesErrors"/>), since one type stands for all of them.
/// </summary>
public sealed class ApiError(int statusCode, ErrorDetail error, DateTimeOffset? retryAt = null, TimeSpan? retryAfter = null)
    : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<ErrorBody>, IContentTypeHttpResult
{
    public int StatusCode { get; } = statusCode;

    public ErrorBody Value { get; } = new(error);

    /// <summary>When the call may succeed again; becomes <c>Retry-After</c> against the request's clock.</summary>
    public DateTimeOffset? RetryAt { get; } = retryAt;

    /// <summary>A fixed <c>Retry-After</c> for problems that pass at no known time (the database is unreachable).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public string ContentType => "application/json";

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    object? IValueHttpResult.Value => Value;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        // A gRPC call refused before its service ran (a scope its key lacks): the same error as a gRPC status.
        if (Grpc.GrpcErrors.IsGrpcRequest(httpContext))
        {
            return Grpc.GrpcErrors.WriteAsync(httpContext, this);
        }
        if (RetryAt is { } retryAt)
        {
            var now = (httpContext.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
            httpContext.Response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(retryAt - now);
        }
        else if (RetryAfter is { } delay)
        {
            httpContext.Response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(delay);
        }
        return TypedResults.Json(Value, statusCode: StatusCode).ExecuteAsync(httpContext);
    }
}
