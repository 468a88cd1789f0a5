using System.Diagnostics.CodeAnalysis;

namespace ConnectionGrid.Common;

/// <summary>
/// A failure the caller can act on: a client's mistake, a resource that does not exist, a conflict, a connection that
/// cannot produce a token now, a storage outage. Grains return these as values instead of throwing them because they are
/// expected outcomes, not faults: the signature says a call can fail this way (the compiler makes callers look, and the
/// kinds are part of the grain's contract), a returned value is cheap where an exception is thrown, serialized across the
/// grain boundary and caught, and no exception handler on the way logs an expected outcome as an error. Exceptions stay
/// for what nobody expects.
/// </summary>
[GenerateSerializer, Immutable, Alias("cg.problem")]
public sealed record Problem(
    [property: Id(0)] string Code,
    [property: Id(1)] string Message,
    [property: Id(2)] ProblemKind Kind,
    [property: Id(3)] DateTimeOffset? RetryAt = null)
{
    public static Problem NotFound(string what) => new("not_found", $"{what} was not found.", ProblemKind.NotFound);
    public static Problem Invalid(string code, string message) => new(code, message, ProblemKind.Invalid);
    public static Problem Conflict(string code, string message) => new(code, message, ProblemKind.Conflict);
    public static Problem StorageUnavailable(string message) => new("storage_unavailable", message, ProblemKind.StorageUnavailable);
}

/// <summary>
/// What kind of failure a problem is: all the HTTP layer needs to choose a status. Serialized by value: a member keeps
/// its number for good, and a removed member's number is not reused.
/// </summary>
[GenerateSerializer, Alias("cg.problem-kind")]
public enum ProblemKind
{
    /// <summary>The request is wrong (400).</summary>
    Invalid = 0,

    /// <summary>The resource does not exist for this caller (404).</summary>
    NotFound = 1,

    /// <summary>The resource's state does not allow the call: a duplicate, a deletion under way (409).</summary>
    Conflict = 2,

    /// <summary>The connection cannot produce a usable token right now (424, as Nango answers).</summary>
    Unavailable = 3,

    // 4 was Forbidden, which no grain produced: scopes are checked by the gateway. Not to be reused.

    /// <summary>The grid's storage failed; the same call can succeed shortly (503).</summary>
    StorageUnavailable = 5,
}

/// <summary>Either a value or a problem.</summary>
[GenerateSerializer, Immutable, Alias("cg.outcome`1")]
public sealed record Outcome<T>([property: Id(0)] T? Value, [property: Id(1)] Problem? Problem)
{
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Problem))]
    public bool Succeeded => Problem is null;

    public static implicit operator Outcome<T>(T value) => new(value, null);
    public static implicit operator Outcome<T>(Problem problem) => new(default, problem);
}
