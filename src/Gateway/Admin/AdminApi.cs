using ConnectionGrid.Common;
using ConnectionGrid.Encryption;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Operations;
using ConnectionGrid.Gateway.Requests;
using ConnectionGrid.Operations;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Admin;

/// <summary>The operator API: tenants, their keys, encryption at rest, and long operations. Authenticated by the operator key only.</summary>
public static class AdminApi
{
    public const int MaxListLimit = 1000;

    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/admin").RequireAuthorization(AdminKeyAuthenticationHandler.Policy).WithTags("Admin")
            .ValidateRouteValues()
            .ProducesErrors(Status401Unauthorized, Status429TooManyRequests, Status503ServiceUnavailable);
        api.MapPost("/tenants", CreateTenant).ProducesErrors(Status400BadRequest, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapGet("/tenants", ListTenants).ProducesErrors(Status400BadRequest);
        api.MapGet("/tenants/{tenantId}", GetTenant).ProducesErrors(Status404NotFound);
        api.MapDelete("/tenants/{tenantId}", DeleteTenant).ProducesErrors(Status404NotFound);
        api.MapPost("/tenants/{tenantId}/keys", CreateKey)
            .ProducesErrors(Status400BadRequest, Status404NotFound, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapDelete("/tenants/{tenantId}/keys/{keyId}", RevokeKey).AnswersNotFoundWith(ResourceErrors.UnknownKey()).ProducesErrors(Status404NotFound);
        api.MapGet("/encryption", EncryptionStatus);
        api.MapPost("/encryption/reencrypt", Reencrypt);
        api.MapGet("/operations/{operationId}", OperationsApi.GetAnyOperation).ProducesErrors(Status404NotFound);
        return api;
    }

    private static async Task<Results<Created<DataEnvelope<CreatedTenantJson>>, ApiError>> CreateTenant(CreateTenantRequest body, [AsParameters] AdminServices services)
    {
        if (!GridKeys.IsValidTenantId(body.Id))
        {
            return InvalidTenantId();
        }
        if (Validation.TooLong(body.DisplayName, 255))
        {
            return ApiErrors.BadRequest("invalid_body", "'display_name' is limited to 255 characters.");
        }
        if (!KeyScopes.TryNormalize(body.Scopes, out var scopes))
        {
            return InvalidScopes();
        }
        var secretKey = SecretKeys.Generate();
        var outcome = await services.Tenant(body.Id).Create(body.DisplayName, SecretKeys.Hash(secretKey), scopes);
        return outcome.ToResult(key => TypedResults.Created($"/admin/tenants/{key.TenantId}", new DataEnvelope<CreatedTenantJson>(
            new CreatedTenantJson(key.TenantId, body.DisplayName ?? key.TenantId, key.CreatedAt, secretKey, KeyJson.From(key)))));
    }

    private static async Task<Results<Ok<TenantListJson>, ApiError>> ListTenants(string? after, string? limit, [AsParameters] AdminServices services)
    {
        if (!Validation.TryParseBounded(limit, 100, 1, MaxListLimit, out var take) || (after is not null && !GridKeys.IsValidTenantId(after)))
        {
            return ApiErrors.BadRequest("invalid_query_params", $"'limit' must be 1-{MaxListLimit} and 'after' a tenant id.");
        }
        var page = await services.Grains.GetGrain<ITenantCatalogGrain>(ITenantCatalogGrain.Key).ListTenants(after, take, services.Aborted);
        return TypedResults.Ok(new TenantListJson(
            page.Select(t => new TenantJson(t.Id, t.DisplayName, t.CreatedAt, null)).ToList(),
            page.Count == take ? page[^1].Id : null));
    }

    private static async Task<Results<Ok<DataEnvelope<TenantJson>>, ApiError>> GetTenant(string tenantId, [AsParameters] AdminServices services) =>
        await services.Tenant(tenantId).Get() is { } tenant
            ? TypedResults.Ok(new DataEnvelope<TenantJson>(new TenantJson(tenant.Id, tenant.DisplayName, tenant.CreatedAt, tenant.Keys.Select(KeyJson.From).ToList())))
            : ResourceErrors.UnknownTenant();

    private static async Task<Results<Accepted<DataEnvelope<OperationJson>>, ApiError>> DeleteTenant(string tenantId, [AsParameters] AdminServices services) =>
        await services.Grains.GetGrain<IOperationGrain>(OperationKeys.TenantDelete(tenantId)).Start() is { } operation
            ? OperationsApi.Accepted(operation, OperationsApi.AdminPath)
            : ResourceErrors.UnknownTenant();

    private static async Task<Results<Created<DataEnvelope<CreatedKeyJson>>, ApiError>> CreateKey(string tenantId, CreateKeyRequest? body, [AsParameters] AdminServices services)
    {
        if (!KeyScopes.TryNormalize(body?.Scopes, out var scopes))
        {
            return InvalidScopes();
        }
        var secretKey = SecretKeys.Generate();
        var outcome = await services.Tenant(tenantId).AddKey(SecretKeys.Hash(secretKey), scopes);
        return outcome.ToResult(info => TypedResults.Created($"/admin/tenants/{tenantId}/keys/{info.KeyId}", new DataEnvelope<CreatedKeyJson>(
            new CreatedKeyJson(info.KeyId, secretKey, info.Scopes, info.CreatedAt))), notFound: ResourceErrors.UnknownTenant());
    }

    private static async Task<Results<NoContent, ApiError>> RevokeKey(string tenantId, string keyId, [AsParameters] AdminServices services) =>
        await services.Tenant(tenantId).RevokeKey(keyId) ? TypedResults.NoContent() : ResourceErrors.UnknownKey();

    private static async Task<Ok<DataEnvelope<EncryptionReport>>> EncryptionStatus([AsParameters] AdminServices services) =>
        TypedResults.Ok(new DataEnvelope<EncryptionReport>(await services.Grains.GetGrain<IStorageEncryptionGrain>(IStorageEncryptionGrain.Key).Status()));

    // The grid's own work: there is always something to re-encrypt (or to find done), so Start never answers "nothing".
    private static async Task<Accepted<DataEnvelope<OperationJson>>> Reencrypt([AsParameters] AdminServices services) =>
        OperationsApi.Accepted((await services.Grains.GetGrain<IOperationGrain>(OperationKeys.Reencrypt).Start())!, OperationsApi.AdminPath);

    private static ApiError InvalidTenantId() => ApiErrors.BadRequest("invalid_tenant_id",
        $"A tenant id must be 1-{GridKeys.MaxTenantIdLength} lower-case letters, digits, '-' or '_', starting with a letter or digit.");

    private static ApiError InvalidScopes() => ApiErrors.BadRequest("invalid_scopes",
        $"'scopes' must be a list of: {string.Join(", ", KeyScopes.All)}.");
}
