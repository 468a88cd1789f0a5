using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Operations;
using ConnectionGrid.Integrations;
using ConnectionGrid.Operations;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Integrations;

/// <summary>Nango's <c>/integrations</c>: a tenant's OAuth apps.</summary>
public static class IntegrationsApi
{
    public static RouteGroupBuilder MapIntegrationsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/integrations").WithTags("Integrations");
        api.MapGet("/", List).AllowKeyScopes(KeyScopes.ConnectionsRead);
        api.MapPost("/", Create).ProducesErrors(Status400BadRequest, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapGet("/{uniqueKey}", Get).AllowKeyScopes(KeyScopes.ConnectionsRead).ProducesErrors(Status400BadRequest, Status404NotFound);
        api.MapPatch("/{uniqueKey}", Update).ProducesErrors(Status400BadRequest, Status404NotFound, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapDelete("/{uniqueKey}", Delete).ProducesErrors(Status400BadRequest, Status404NotFound);
        return api;
    }

    private static async Task<Ok<DataEnvelope<IReadOnlyList<IntegrationJson>>>> List([AsParameters] IntegrationServices services)
    {
        var list = await services.Grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListIntegrations(services.TenantId, services.Aborted);
        return TypedResults.Ok(new DataEnvelope<IReadOnlyList<IntegrationJson>>(list.Select(IntegrationJson.From).ToList()));
    }

    private static async Task<Results<Ok<IntegrationEnvelope>, ApiError>> Create(CreateIntegrationRequest body, [AsParameters] IntegrationServices services)
    {
        if (!GridKeys.IsValidIntegrationKey(body.UniqueKey))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (string.IsNullOrWhiteSpace(body.Provider))
        {
            return ApiErrors.BadRequest("invalid_body", "'provider' is required.");
        }
        if (body.Credentials is { } c && c.Type is not null && !string.Equals(c.Type, "OAUTH2", StringComparison.OrdinalIgnoreCase))
        {
            return ApiErrors.BadRequest("invalid_credentials", "Only credentials of type 'OAUTH2' are supported.");
        }
        if (TooLong(body.DisplayName, body.Credentials))
        {
            return ApiErrors.BadRequest("invalid_body", "A field is longer than allowed.");
        }

        var spec = new IntegrationSpec
        {
            Provider = body.Provider.Trim(),
            DisplayName = body.DisplayName,
            ClientId = body.Credentials?.ClientId,
            ClientSecret = body.Credentials?.ClientSecret,
            Scopes = ParseScopes(body.Credentials?.Scopes),
        };
        var outcome = await services.Integration(body.UniqueKey).Create(spec);
        return outcome.ToResult(Envelope);
    }

    private static async Task<Results<Ok<DataEnvelope<IntegrationJson>>, ApiError>> Get(string uniqueKey, string? include, [AsParameters] IntegrationServices services)
    {
        var withCredentials = include?.Split(',').Contains("credentials", StringComparer.OrdinalIgnoreCase) == true;
        if (withCredentials && !services.User.HasScope(KeyScopes.Full))
        {
            return ApiErrors.InsufficientScope(KeyScopes.Full);
        }
        return await services.Integration(uniqueKey).Get() is { } view
            ? TypedResults.Ok(new DataEnvelope<IntegrationJson>(IntegrationJson.From(view, withCredentials)))
            : ResourceErrors.UnknownIntegration();
    }

    private static async Task<Results<Ok<IntegrationEnvelope>, ApiError>> Update(string uniqueKey, UpdateIntegrationRequest body, [AsParameters] IntegrationServices services)
    {
        if (body.DisplayName is null && body.Credentials is null)
        {
            return ApiErrors.BadRequest("invalid_body", "Nothing to update: send 'display_name' or 'credentials'.");
        }
        if (TooLong(body.DisplayName, body.Credentials))
        {
            return ApiErrors.BadRequest("invalid_body", "A field is longer than allowed.");
        }
        var patch = new IntegrationPatch
        {
            DisplayName = body.DisplayName,
            ClientId = body.Credentials?.ClientId,
            ClientSecret = body.Credentials?.ClientSecret,
            Scopes = body.Credentials?.Scopes is null ? null : ParseScopes(body.Credentials.Scopes),
        };
        var outcome = await services.Integration(uniqueKey).Update(patch);
        return outcome.ToResult(Envelope, notFound: ResourceErrors.UnknownIntegration());
    }

    private static async Task<Results<Accepted<DataEnvelope<OperationJson>>, ApiError>> Delete(string uniqueKey, [AsParameters] IntegrationServices services) =>
        await services.Grains.GetGrain<IOperationGrain>(OperationKeys.IntegrationDelete(services.TenantId, uniqueKey)).Start() is { } operation
            ? OperationsApi.Accepted(operation, OperationsApi.TenantPath)
            : ResourceErrors.UnknownIntegration();

    private static Ok<IntegrationEnvelope> Envelope(IntegrationView view) =>
        TypedResults.Ok(new IntegrationEnvelope(IntegrationJson.From(view, includeCredentials: false), view.Notices));

    private static bool TooLong(string? displayName, IntegrationCredentialsJson? credentials) =>
        Validation.TooLong(displayName, 255) || Validation.TooLong(credentials?.ClientId, 1024)
        || Validation.TooLong(credentials?.ClientSecret, 4096) || Validation.TooLong(credentials?.Scopes, 4096);

    /// <summary>Nango takes scopes comma-separated; spaces are accepted too.</summary>
    private static IReadOnlyList<string> ParseScopes(string? scopes) =>
        scopes?.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}
