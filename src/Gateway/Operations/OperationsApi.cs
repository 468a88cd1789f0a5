using System.Security.Claims;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
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
public static class OperationsApi
{
    public const string AdminPath = "/admin/operations";
    public const string TenantPath = "/operations";

    public static RouteGroupBuilder MapOperationsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup(TenantPath).WithTags("Operations");
        api.MapGet("/{operationId}", GetTenantOperation).ProducesErrors(StatusCodes.Status404NotFound);
        return api;
    }

    /// <summary>The operator's read: any operation of the grid.</summary>
    public static async Task<Results<Ok<DataEnvelope<OperationJson>>, ApiError>> GetAnyOperation(string operationId, [AsParameters] OperationServices services) =>
        await services.ReadAsync(operationId) is { } view ? Found(view) : ResourceErrors.UnknownOperation();

    /// <summary>202 with the operation's status resource: the answer of every request that starts or joins one.</summary>
    public static Accepted<DataEnvelope<OperationJson>> Accepted(OperationView view, string basePath) =>
        TypedResults.Accepted($"{basePath}/{view.Id}", new DataEnvelope<OperationJson>(OperationJson.From(view)));

    private static async Task<Results<Ok<DataEnvelope<OperationJson>>, ApiError>> GetTenantOperation(string operationId, [AsParameters] OperationServices services) =>
        // Only what the tenant's own key started; another tenant's operation answers exactly like one that does not exist.
        await services.ReadAsync(operationId, operation => operation.Kind == OperationKind.IntegrationDelete && operation.TenantId == services.User.TenantId()) is { } view
            ? Found(view)
            : ResourceErrors.UnknownOperation();

    private static Ok<DataEnvelope<OperationJson>> Found(OperationView view) => TypedResults.Ok(new DataEnvelope<OperationJson>(OperationJson.From(view)));
}

/// <summary>What the operations handlers take from the request (<c>[AsParameters]</c>): the caller (a tenant, or the operator) and the grains.</summary>
public sealed record OperationServices(ClaimsPrincipal User, IGrainFactory Grains)
{
    /// <summary>
    /// The run the id names, if <paramref name="visible"/> lets the caller see it; null once a newer run of the same work
    /// replaced it. (The route value rules have checked the id's form; it is parsed here for what it names.)
    /// </summary>
    public async Task<OperationView?> ReadAsync(string operationId, Func<OperationRef, bool>? visible = null) =>
        OperationKeys.TryParseId(operationId, out var operation) && (visible is null || visible(operation))
        && await Grains.GetGrain<IOperationGrain>(operation.GrainKey).Get() is { } view && view.Id == operationId
            ? view
            : null;
}
