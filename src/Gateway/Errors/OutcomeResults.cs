using ConnectionGrid.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>The one way a grain's <see cref="Outcome{T}"/> becomes a response.</summary>
public static class OutcomeResults
{
    /// <summary>
    /// The success answer <paramref name="onSuccess"/> makes of the value, or the problem as <see cref="ApiErrors.From"/>
    /// maps it; <paramref name="notFound"/> replaces the grain's not-found when the route has its own word for it.
    /// </summary>
    public static Results<TResult, ApiError> ToResult<T, TResult>(this Outcome<T> outcome, Func<T, TResult> onSuccess, ApiError? notFound = null)
        where TResult : IResult =>
        outcome.Succeeded ? onSuccess(outcome.Value) : ApiErrors.From(outcome.Problem, notFound);
}
