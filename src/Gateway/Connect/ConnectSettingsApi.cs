using ConnectionGrid.Connect;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// <c>/connect/settings</c>: the origins the tenant's Connect pages may be framed by and report results to with
/// <c>postMessage</c>, and the return URL a full-page flow ends on. Nango has no such settings (its frontend SDK
/// waits on a WebSocket); they are the grid's own.
/// </summary>
public static class ConnectSettingsApi
{
    public static void MapConnectSettingsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/connect/settings").WithTags("Connect");
        api.MapGet("/", Get).AllowKeyScopes(KeyScopes.ConnectionsRead);
        api.MapPut("/", Put).ProducesErrors(Status400BadRequest, Status413PayloadTooLarge, Status415UnsupportedMediaType);
    }

    private static async Task<Ok<DataEnvelope<ConnectSettingsJson>>> Get([AsParameters] ConnectServices services) =>
        TypedResults.Ok(new DataEnvelope<ConnectSettingsJson>(ConnectSettingsJson.From(await services.Settings().Get())));

    private static async Task<Results<Ok<DataEnvelope<ConnectSettingsJson>>, ApiError>> Put(ConnectSettingsRequest body, [AsParameters] ConnectServices services)
    {
        if (body.AllowedOrigins is not { } given)
        {
            return ApiErrors.BadRequest("invalid_allowed_origin", "'allowed_origins' is required: a list of origins, empty to allow none.");
        }
        if (given.Count > ConnectOrigins.MaxOrigins)
        {
            return ApiErrors.BadRequest("invalid_allowed_origin", $"'allowed_origins' takes at most {ConnectOrigins.MaxOrigins} origins.");
        }
        var origins = new List<string>();
        foreach (var origin in given)
        {
            if (ConnectOrigins.Normalize(origin) is not { } normalized)
            {
                return ApiErrors.BadRequest("invalid_allowed_origin",
                    "Each of 'allowed_origins' must be an origin: https://host[:port], or http://localhost[:port] (also 127.0.0.1 and [::1]), without path, query, wildcard or credentials.");
            }
            if (!origins.Contains(normalized, StringComparer.Ordinal))
            {
                origins.Add(normalized);
            }
        }
        string? returnUrl = null;
        if (body.ReturnUrl is not null && (returnUrl = ConnectOrigins.ReturnUrl(body.ReturnUrl, origins)) is null)
        {
            return ApiErrors.BadRequest("invalid_return_url",
                "'return_url' must be an absolute https URL (or http on localhost) without credentials or fragment, whose origin is one of 'allowed_origins'.");
        }
        var settings = new ConnectSettings { AllowedOrigins = origins, ReturnUrl = returnUrl };
        await services.Settings().Set(settings);
        return TypedResults.Ok(new DataEnvelope<ConnectSettingsJson>(ConnectSettingsJson.From(settings)));
    }
}

public sealed record ConnectSettingsRequest(List<string>? AllowedOrigins, string? ReturnUrl);

public sealed record ConnectSettingsJson(IReadOnlyList<string> AllowedOrigins, string? ReturnUrl)
{
    public static ConnectSettingsJson From(ConnectSettings settings) => new(settings.AllowedOrigins, settings.ReturnUrl);
}
