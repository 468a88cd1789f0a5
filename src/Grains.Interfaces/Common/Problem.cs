using System.Diagnostics.CodeAnalysis;

namespace ConnectionGrid.Common;

/// <summary>
/// A failure a caller can act on. Grains return problems instead of throwing them, because an exception that
/// escapes a grain call is logged as an error and may deactivate the grain, and a client's mistake is neither.
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
}

/// <summary>What kind of failure a problem is; the HTTP layer maps it to a status code.</summary>
[GenerateSerializer, Alias("cg.problem-kind")]
public enum ProblemKind
{
    Invalid = 0,
    NotFound = 1,
    Conflict = 2,
    /// <summary>The connection cannot produce a usable token right now (Nango answers 424).</summary>
    Unavailable = 3,
    Forbidden = 4,
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
