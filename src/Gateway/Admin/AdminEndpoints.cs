using System.Text.Json.Serialization;
using ConnectionGrid.Common;
using ConnectionGrid.Encryption;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Integrations;
using ConnectionGrid.Gateway.Operations;
using ConnectionGrid.Operations;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace ConnectionGrid.Gateway.Admin;

/// <summary>The operator API: tenants, their keys, encryption at rest, and long operations. Authenticated by the operator key only.</summary>
public static class AdminEndpoints
{
    public const int MaxListLimit = 1000;

    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder routes)
    {
        var admin = routes.MapGroup("/admin").RequireAuthorization(AdminKeyAuthenticationHandler.Policy).WithTags("Admin");
        admin.MapPost("/tenants", CreateTenant);
        admin.MapGet("/tenants", ListTenants);
        admin.MapGet("/tenants/{tenantId}", GetTenant);
        admin.MapDelete("/tenants/{tenantId}", DeleteTenant);
        admin.MapPost("/tenants/{tenantId}/keys", CreateKey);
        admin.MapDelete("/tenants/{tenantId}/keys/{keyId}", RevokeKey);
        admin.MapGet("/encryption", async (IGrainFactory grains) =>
            TypedResults.Ok(new DataEnvelope<EncryptionReport>(await grains.GetGrain<IStorageEncryptionGrain>(IStorageEncryptionGrain.Key).Status())));
        admin.MapPost("/encryption/reencrypt", async (IGrainFactory grains) =>
            OperationEndpoints.Accepted((await grains.GetGrain<IOperationGrain>(OperationKeys.Reencrypt).Start())!, OperationEndpoints.AdminPath));
        admin.MapGet("/operations/{operationId}", OperationEndpoints.GetOperation);
        return admin;
    }

    private static async Task<IResult> CreateTenant(CreateTenantRequest body, IGrainFactory grains, HttpContext context)
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
        var outcome = await grains.GetGrain<ITenantGrain>(body.Id!).Create(body.DisplayName, SecretKeys.Hash(secretKey), scopes);
        if (!outcome.Succeeded)
        {
            return ApiErrors.From(outcome.Problem!, context);
        }
        var key = outcome.Value!;
        return TypedResults.Created($"/admin/tenants/{key.TenantId}", new DataEnvelope<CreatedTenantJson>(
            new CreatedTenantJson(key.TenantId, body.DisplayName ?? key.TenantId, key.CreatedAt, secretKey, KeyJson.From(key))));
    }

    private static async Task<IResult> ListTenants(IGrainFactory grains, string? after, string? limit, CancellationToken cancellationToken)
    {
        var take = 100;
        if ((limit is not null && (!int.TryParse(limit, out take) || take is < 1 or > MaxListLimit)) || (after is not null && !GridKeys.IsValidTenantId(after)))
        {
            return ApiErrors.BadRequest("invalid_query_params", $"'limit' must be 1-{MaxListLimit} and 'after' a tenant id.");
        }
        var page = await grains.GetGrain<ITenantCatalogGrain>(ITenantCatalogGrain.Key).ListTenants(after, take, cancellationToken);
        return TypedResults.Ok(new TenantListJson(
            page.Select(t => new TenantJson(t.Id, t.DisplayName, t.CreatedAt, null)).ToList(),
            page.Count == take ? page[^1].Id : null));
    }

    private static async Task<IResult> GetTenant(string tenantId, IGrainFactory grains)
    {
        var tenant = GridKeys.IsValidTenantId(tenantId) ? await grains.GetGrain<ITenantGrain>(tenantId).Get() : null;
        return tenant is null
            ? UnknownTenant()
            : TypedResults.Ok(new DataEnvelope<TenantJson>(new TenantJson(tenant.Id, tenant.DisplayName, tenant.CreatedAt, tenant.Keys.Select(KeyJson.From).ToList())));
    }

    private static async Task<IResult> DeleteTenant(string tenantId, IGrainFactory grains) =>
        GridKeys.IsValidTenantId(tenantId) && await grains.GetGrain<IOperationGrain>(OperationKeys.TenantDelete(tenantId)).Start() is { } operation
            ? OperationEndpoints.Accepted(operation, OperationEndpoints.AdminPath)
            : UnknownTenant();

    private static async Task<IResult> CreateKey(string tenantId, CreateKeyRequest? body, IGrainFactory grains, HttpContext context)
    {
        if (!GridKeys.IsValidTenantId(tenantId))
        {
            return UnknownTenant();
        }
        if (!KeyScopes.TryNormalize(body?.Scopes, out var scopes))
        {
            return InvalidScopes();
        }
        var secretKey = SecretKeys.Generate();
        var outcome = await grains.GetGrain<ITenantGrain>(tenantId).AddKey(SecretKeys.Hash(secretKey), scopes);
        if (!outcome.Succeeded)
        {
            return outcome.Problem!.Kind == ProblemKind.NotFound ? UnknownTenant() : ApiErrors.From(outcome.Problem!, context);
        }
        var key = KeyJson.From(outcome.Value!);
        return TypedResults.Created($"/admin/tenants/{tenantId}/keys/{key.Id}", new DataEnvelope<CreatedKeyJson>(
            new CreatedKeyJson(key.Id, secretKey, key.Scopes, key.CreatedAt)));
    }

    private static async Task<IResult> RevokeKey(string tenantId, string keyId, IGrainFactory grains) =>
        GridKeys.IsValidTenantId(tenantId) && keyId.Length <= 64 && await grains.GetGrain<ITenantGrain>(tenantId).RevokeKey(keyId)
            ? TypedResults.NoContent()
            : ApiErrors.NotFound("unknown_key", "No key with this id exists for this tenant.");

    private static JsonHttpResult<ErrorBody> InvalidTenantId() => ApiErrors.BadRequest("invalid_tenant_id",
        $"A tenant id must be 1-{GridKeys.MaxTenantIdLength} lower-case letters, digits, '-' or '_', starting with a letter or digit.");

    private static JsonHttpResult<ErrorBody> InvalidScopes() => ApiErrors.BadRequest("invalid_scopes",
        $"'scopes' must be a list of: {string.Join(", ", KeyScopes.All)}.");

    private static JsonHttpResult<ErrorBody> UnknownTenant() => ApiErrors.NotFound("unknown_tenant", "No tenant with this id exists.");
}

// The operator API is the grid's own: a misspelt field is an error, not silently a key with default scopes.
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateTenantRequest(string? Id, string? DisplayName, IReadOnlyList<string>? Scopes);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateKeyRequest(IReadOnlyList<string>? Scopes);

public sealed record TenantJson(string Id, string? DisplayName, DateTimeOffset CreatedAt, IReadOnlyList<KeyJson>? Keys);

public sealed record TenantListJson(IReadOnlyList<TenantJson> Data, string? NextCursor);

public sealed record KeyJson(string Id, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt)
{
    public static KeyJson From(TenantKeyInfo key) => new(key.KeyId, key.Scopes, key.CreatedAt);
}

/// <summary>The only response that carries a secret key: the key is shown once and never again.</summary>
public sealed record CreatedTenantJson(string Id, string? DisplayName, DateTimeOffset CreatedAt, string SecretKey, KeyJson Key)
{
    public override string ToString() => $"CreatedTenantJson {{ Id = {Id}, SecretKey = {Redaction.Of(SecretKey)} }}";
}

public sealed record CreatedKeyJson(string Id, string SecretKey, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt)
{
    public override string ToString() => $"CreatedKeyJson {{ Id = {Id}, SecretKey = {Redaction.Of(SecretKey)} }}";
}
