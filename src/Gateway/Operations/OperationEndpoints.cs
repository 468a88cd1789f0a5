using System.Security.Claims;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Integrations;
using ConnectionGrid.Operations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace ConnectionGrid.Gateway.Operations;

/// <summary>
/// Long operations answer 202 Accepted with a status resource, finished or not, so a client has one code path: it
/// follows <c>Location</c> until the status is no longer <c>running</c>. A tenant reads its own operations under
/// <c>/operations</c>; the operator reads every one under <c>/admin/operations</c>.
/// </summary>
public static class OperationEndpoints
{
    public const string AdminPath = "/admin/operations";
    public const string TenantPath = "/operations";

    public static RouteGroupBuilder MapOperations(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup(TenantPath).WithTags("Operations");
        group.MapGet("/{operationId}", GetTenantOperation);
        return group;
    }

    /// <summary>The operator's read: any operation of the grid.</summary>
    public static async Task<IResult> GetOperation(string operationId, IGrainFactory grains) =>
        OperationKeys.TryParseId(operationId, out var operation) && await ReadAsync(operation, operationId, grains) is { } view
            ? TypedResults.Ok(new DataEnvelope<OperationJson>(OperationJson.From(view)))
            : UnknownOperation();

    /// <summary>202 with the operation's status resource: the answer of every request that starts or joins one.</summary>
    public static Accepted<DataEnvelope<OperationJson>> Accepted(OperationView view, string basePath) =>
        TypedResults.Accepted($"{basePath}/{view.Id}", new DataEnvelope<OperationJson>(OperationJson.From(view)));

    private static async Task<IResult> GetTenantOperation(string operationId, ClaimsPrincipal user, IGrainFactory grains)
    {
        // Only what the tenant's own key started; another tenant's operation answers exactly like one that does not exist.
        if (!OperationKeys.TryParseId(operationId, out var operation) || operation.Kind != OperationKind.IntegrationDelete || operation.TenantId != user.TenantId())
        {
            return UnknownOperation();
        }
        return await ReadAsync(operation, operationId, grains) is { } view
            ? TypedResults.Ok(new DataEnvelope<OperationJson>(OperationJson.From(view)))
            : UnknownOperation();
    }

    /// <summary>The run the id names; null once a newer run of the same work replaced it.</summary>
    private static async Task<OperationView?> ReadAsync(OperationRef operation, string operationId, IGrainFactory grains) =>
        await grains.GetGrain<IOperationGrain>(operation.GrainKey).Get() is { } view && view.Id == operationId ? view : null;

    private static JsonHttpResult<ErrorBody> UnknownOperation() => ApiErrors.NotFound("unknown_operation", "No operation with this id exists.");
}

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
