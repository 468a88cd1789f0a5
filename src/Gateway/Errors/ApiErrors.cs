using ConnectionGrid.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>The one error shape of the API, Nango's: <c>{"error":{"code","message"}}</c>.</summary>
public sealed record ErrorBody(ErrorDetail Error);

public sealed record ErrorDetail(string Code, string Message);

public static class ApiErrors
{
    public static JsonHttpResult<ErrorBody> Create(int status, string code, string message) =>
        TypedResults.Json(new ErrorBody(new ErrorDetail(code, message)), statusCode: status);

    public static JsonHttpResult<ErrorBody> BadRequest(string code, string message) => Create(StatusCodes.Status400BadRequest, code, message);

    public static JsonHttpResult<ErrorBody> NotFound(string code, string message) => Create(StatusCodes.Status404NotFound, code, message);

    public static JsonHttpResult<ErrorBody> InsufficientScope(params IEnumerable<string> anyOf) => Create(StatusCodes.Status403Forbidden, "insufficient_scope",
        $"This secret key's scopes do not allow this call; it needs a key with scope {string.Join(" or ", anyOf.Select(s => $"'{s}'"))}.");

    /// <summary>The Retry-After header's value: whole seconds, at least one.</summary>
    public static string RetryAfterSeconds(TimeSpan retryAfter) =>
        Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Maps a grain's problem to its status. Retry-After accompanies problems that will pass.</summary>
    public static IResult From(Problem problem, HttpContext context)
    {
        var status = problem switch
        {
            { Kind: ProblemKind.NotFound } => StatusCodes.Status404NotFound,
            { Kind: ProblemKind.Conflict } => StatusCodes.Status409Conflict,
            { Kind: ProblemKind.Unavailable } => StatusCodes.Status424FailedDependency,
            { Kind: ProblemKind.StorageUnavailable } => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status400BadRequest,
        };
        if (problem.RetryAt is { } retryAt)
        {
            var now = (context.RequestServices.GetService(typeof(TimeProvider)) as TimeProvider ?? TimeProvider.System).GetUtcNow();
            context.Response.Headers.RetryAfter = RetryAfterSeconds(retryAt - now);
        }
        return Create(status, problem.Code, problem.Message);
    }
}
