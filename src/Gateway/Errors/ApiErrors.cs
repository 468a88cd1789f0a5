using ConnectionGrid.Common;
using Microsoft.AspNetCore.Http;

namespace ConnectionGrid.Gateway.Errors;

public static class ApiErrors
{
    public static ApiError Create(int status, string code, string message) => new(status, new ErrorDetail(code, message));

    public static ApiError BadRequest(string code, string message) => Create(StatusCodes.Status400BadRequest, code, message);

    public static ApiError NotFound(string code, string message) => Create(StatusCodes.Status404NotFound, code, message);

    public static ApiError InsufficientScope(params IEnumerable<string> anyOf) => Create(StatusCodes.Status403Forbidden, "insufficient_scope",
        $"This secret key's scopes do not allow this call; it needs a key with scope {string.Join(" or ", anyOf.Select(s => $"'{s}'"))}.");

    /// <summary>What a caller waits before retrying a call the database could not take.</summary>
    public static readonly TimeSpan StorageRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>The Retry-After header's value: whole seconds, at least one.</summary>
    public static string RetryAfterSeconds(TimeSpan retryAfter) =>
        Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A grain's problem as the API answers it: its kind gives the status, and <c>Retry-After</c> accompanies problems
    /// that will pass. <paramref name="notFound"/> is what "not found" means on the caller's route (<c>unknown_connection</c>
    /// rather than the grain's generic <c>not_found</c>), when the route has its own word for it.
    /// </summary>
    public static ApiError From(Problem problem, ApiError? notFound = null) => problem.Kind switch
    {
        ProblemKind.NotFound when notFound is not null => notFound,
        // The database is unreachable: it comes back at no known time, so the caller is told when to ask again.
        ProblemKind.StorageUnavailable when problem.RetryAt is null =>
            new ApiError(StatusOf(problem.Kind), new ErrorDetail(problem.Code, problem.Message), retryAfter: StorageRetryAfter),
        _ => new ApiError(StatusOf(problem.Kind), new ErrorDetail(problem.Code, problem.Message), problem.RetryAt),
    };

    private static int StatusOf(ProblemKind kind) => kind switch
    {
        ProblemKind.NotFound => StatusCodes.Status404NotFound,
        ProblemKind.Conflict => StatusCodes.Status409Conflict,
        ProblemKind.Unavailable => StatusCodes.Status424FailedDependency,
        ProblemKind.StorageUnavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };
}
