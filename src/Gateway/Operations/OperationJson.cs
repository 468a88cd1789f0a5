using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Operations;

namespace ConnectionGrid.Gateway.Operations;

/// <summary>
/// An operation's status resource. <c>finished_at</c> once it is no longer running; <c>error</c> when a batch failed
/// (while running: it is retried) or the operation gave up.
/// </summary>
public sealed record OperationJson(
    string Id,
    string Kind,
    string Status,
    IReadOnlyDictionary<string, long> Progress,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    ErrorDetail? Error)
{
    public static OperationJson From(OperationView view) => new(
        view.Id,
        OperationKeys.NameOf(view.Kind),
        view.Status switch
        {
            OperationStatus.Running => "running",
            OperationStatus.Succeeded => "succeeded",
            _ => "failed",
        },
        view.Progress,
        view.StartedAt,
        view.FinishedAt,
        view.ErrorCode is null ? null : new ErrorDetail(view.ErrorCode, view.ErrorMessage ?? ""));
}
