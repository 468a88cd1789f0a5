using System.Security.Claims;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Operations;
using ConnectionGrid.Integrations;
using ConnectionGrid.Operations;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace ConnectionGrid.Gateway.Integrations;

/// <summary>Nango's <c>/integrations</c>: a tenant's OAuth apps.</summary>
public static class IntegrationEndpoints
{
    public static RouteGroupBuilder MapIntegrations(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/integrations").WithTags("Integrations");
        group.MapGet("/", List).AllowKeyScopes(KeyScopes.ConnectionsRead);
        group.MapPost("/", Create);
        group.MapGet("/{uniqueKey}", Get).AllowKeyScopes(KeyScopes.ConnectionsRead);
        group.MapPatch("/{uniqueKey}", Update);
        group.MapDelete("/{uniqueKey}", Delete);
        return group;
    }

    private static async Task<Ok<DataEnvelope<IReadOnlyList<IntegrationJson>>>> List(ClaimsPrincipal user, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var list = await grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListIntegrations(user.TenantId(), cancellationToken);
        return TypedResults.Ok(new DataEnvelope<IReadOnlyList<IntegrationJson>>(list.Select(IntegrationJson.From).ToList()));
    }

    private static async Task<IResult> Create(CreateIntegrationRequest body, ClaimsPrincipal user, IGrainFactory grains, HttpContext context)
    {
        if (!GridKeys.IsValidIntegrationKey(body.UniqueKey))
        {
            return InvalidKey();
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
        var outcome = await grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(user.TenantId(), body.UniqueKey!)).Create(spec);
        return outcome.Succeeded
            ? TypedResults.Ok(new IntegrationEnvelope(IntegrationJson.From(outcome.Value!, includeCredentials: false), outcome.Value!.Notices))
            : ApiErrors.From(outcome.Problem!, context);
    }

    private static async Task<IResult> Get(string uniqueKey, string? include, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (!GridKeys.IsValidIntegrationKey(uniqueKey))
        {
            return InvalidKey();
        }
        var withCredentials = include?.Split(',').Contains("credentials", StringComparer.OrdinalIgnoreCase) == true;
        if (withCredentials && !user.HasScope(KeyScopes.Full))
        {
            return ApiErrors.InsufficientScope(KeyScopes.Full);
        }
        var view = await grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(user.TenantId(), uniqueKey)).Get();
        if (view is null)
        {
            return UnknownIntegration();
        }
        return TypedResults.Ok(new DataEnvelope<IntegrationJson>(IntegrationJson.From(view, withCredentials)));
    }

    private static async Task<IResult> Update(string uniqueKey, UpdateIntegrationRequest body, ClaimsPrincipal user, IGrainFactory grains, HttpContext context)
    {
        if (!GridKeys.IsValidIntegrationKey(uniqueKey))
        {
            return InvalidKey();
        }
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
        var outcome = await grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(user.TenantId(), uniqueKey)).Update(patch);
        return outcome.Succeeded
            ? TypedResults.Ok(new IntegrationEnvelope(IntegrationJson.From(outcome.Value!, includeCredentials: false), outcome.Value!.Notices))
            : outcome.Problem!.Kind == ProblemKind.NotFound ? UnknownIntegration() : ApiErrors.From(outcome.Problem!, context);
    }

    private static async Task<IResult> Delete(string uniqueKey, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (!GridKeys.IsValidIntegrationKey(uniqueKey))
        {
            return InvalidKey();
        }
        var operation = await grains.GetGrain<IOperationGrain>(OperationKeys.IntegrationDelete(user.TenantId(), uniqueKey)).Start();
        return operation is null ? UnknownIntegration() : OperationEndpoints.Accepted(operation, OperationEndpoints.TenantPath);
    }

    private static bool TooLong(string? displayName, IntegrationCredentialsJson? credentials) =>
        Validation.TooLong(displayName, 255) || Validation.TooLong(credentials?.ClientId, 1024)
        || Validation.TooLong(credentials?.ClientSecret, 4096) || Validation.TooLong(credentials?.Scopes, 4096);

    /// <summary>Nango takes scopes comma-separated; spaces are accepted too.</summary>
    internal static IReadOnlyList<string> ParseScopes(string? scopes) =>
        scopes?.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    internal static JsonHttpResult<ErrorBody> InvalidKey() => ApiErrors.BadRequest("invalid_provider_config_key",
        $"The integration's unique key must be 1-{GridKeys.MaxIntegrationKeyLength} letters, digits, '.', '_' or '-', starting with a letter or digit.");

    internal static JsonHttpResult<ErrorBody> UnknownIntegration() => ApiErrors.NotFound("unknown_provider_config", "No integration with this unique key exists.");
}

public sealed record DataEnvelope<T>(T Data);

public sealed record SuccessJson(bool Success);

/// <summary>An integration response; <c>warnings</c> says what the grid changed on the caller's behalf.</summary>
public sealed record IntegrationEnvelope(IntegrationJson Data, IReadOnlyList<string>? Warnings)
{
    public IReadOnlyList<string>? Warnings { get; init; } = Warnings is { Count: > 0 } ? Warnings : null;
}

public sealed record CreateIntegrationRequest(string? UniqueKey, string? Provider, string? DisplayName, IntegrationCredentialsJson? Credentials);

public sealed record UpdateIntegrationRequest(string? DisplayName, IntegrationCredentialsJson? Credentials);

public sealed record IntegrationCredentialsJson(string? Type, string? ClientId, string? ClientSecret, string? Scopes);

public sealed record IntegrationJson(string UniqueKey, string? DisplayName, string Provider, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public string? Logo { get; init; }
    public bool ForwardWebhooks { get; init; }
    public IntegrationCredentialsJson? Credentials { get; init; }

    public static IntegrationJson From(IntegrationSummary s) => new(s.UniqueKey, s.DisplayName ?? s.Provider, s.Provider, s.CreatedAt, s.UpdatedAt);

    public static IntegrationJson From(IntegrationView v, bool includeCredentials) => new(v.UniqueKey, v.DisplayName ?? v.Provider, v.Provider, v.CreatedAt, v.UpdatedAt)
    {
        Credentials = includeCredentials ? new IntegrationCredentialsJson("OAUTH2", v.ClientId, v.ClientSecret, string.Join(',', v.Scopes)) : null,
    };
}

internal static class Validation
{
    public static bool TooLong(string? value, int max) => value is not null && value.Length > max;
}
