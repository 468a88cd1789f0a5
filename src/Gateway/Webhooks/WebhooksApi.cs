using System.Security.Claims;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Webhooks;

/// <summary>
/// <c>/webhooks</c>: where a tenant's events go, the secrets that sign them, and the delivery log. Key scope
/// <c>full</c> only: the settings decide where the grid sends data and hold the signing secrets.
/// </summary>
public static class WebhooksApi
{
    public const int MaxListLimit = 200;

    public static RouteGroupBuilder MapWebhooksApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/webhooks").WithTags("Webhooks");
        api.MapGet("/settings", GetSettings);
        api.MapPut("/settings", PutSettings).ProducesErrors(Status400BadRequest, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapPost("/settings/signing-secrets", CreateSecret);
        api.MapDelete("/settings/signing-secrets/{secretId}", DeleteSecret).ProducesErrors(Status404NotFound, Status409Conflict);
        api.MapGet("/deliveries", ListDeliveries).ProducesErrors(Status400BadRequest);
        api.MapPost("/deliveries/{deliveryId}/retry", Retry).ProducesErrors(Status404NotFound, Status409Conflict);
        return api;
    }

    private static async Task<Ok<DataEnvelope<WebhookSettingsJson>>> GetSettings([AsParameters] WebhookServices services) =>
        TypedResults.Ok(new DataEnvelope<WebhookSettingsJson>(WebhookSettingsJson.From(await services.Webhooks.GetSettings())));

    private static async Task<Results<Ok<DataEnvelope<WebhookSettingsJson>>, ApiError>> PutSettings(WebhookSettingsRequest body, [AsParameters] WebhookServices services)
    {
        if (body.Urls is null || body.Urls.Any(u => u is null))
        {
            return ApiErrors.BadRequest("invalid_webhook_urls", "'urls' must list one or two URLs.");
        }
        if (body.Events is { } events && events.Any(e => e is null))
        {
            return ApiErrors.BadRequest("invalid_webhook_events", "'events' must list event types.");
        }
        var outcome = await services.Webhooks.PutSettings(new WebhookSettingsSpec { Urls = body.Urls, Events = body.Events });
        return outcome.ToResult(view => TypedResults.Ok(new DataEnvelope<WebhookSettingsJson>(WebhookSettingsJson.From(view))));
    }

    private static async Task<Results<Created<DataEnvelope<NewSigningSecretJson>>, ApiError>> CreateSecret([AsParameters] WebhookServices services)
    {
        var outcome = await services.Webhooks.CreateSigningSecret();
        return outcome.ToResult(created => TypedResults.Created((string?)null, new DataEnvelope<NewSigningSecretJson>(NewSigningSecretJson.From(created))));
    }

    private static async Task<Results<NoContent, ApiError>> DeleteSecret(string secretId, [AsParameters] WebhookServices services) =>
        (await services.Webhooks.DeleteSigningSecret(secretId)).ToResult(_ => TypedResults.NoContent(), ResourceErrors.UnknownSigningSecret());

    private static async Task<Results<Ok<DeliveryListJson>, ApiError>> ListDeliveries(string? status, string? limit, string? cursor, [AsParameters] WebhookServices services)
    {
        DeliveryStatus? wanted = status switch
        {
            null => null,
            "pending" => DeliveryStatus.Pending,
            "delivered" => DeliveryStatus.Delivered,
            "failed" => DeliveryStatus.Failed,
            _ => (DeliveryStatus)(-1),
        };
        if (wanted is (DeliveryStatus)(-1))
        {
            return ApiErrors.BadRequest("invalid_query_params", "'status' must be pending, delivered or failed.");
        }
        if (!Validation.TryParseBounded(limit, 50, 1, MaxListLimit, out var take))
        {
            return ApiErrors.BadRequest("invalid_query_params", $"'limit' must be 1-{MaxListLimit}.");
        }
        if (cursor is not null && !DeliveryIds.IsWellFormed(cursor))
        {
            return ApiErrors.BadRequest("invalid_query_params", "'cursor' must be a next_cursor from an earlier page.");
        }
        var page = await services.Webhooks.ListDeliveries(wanted, take, cursor);
        return TypedResults.Ok(new DeliveryListJson(page.Deliveries.Select(DeliveryJson.From).ToList(), page.NextCursor));
    }

    private static async Task<Results<Ok<DataEnvelope<DeliveryJson>>, ApiError>> Retry(string deliveryId, [AsParameters] WebhookServices services) =>
        (await services.Webhooks.Retry(deliveryId)).ToResult(
            view => TypedResults.Ok(new DataEnvelope<DeliveryJson>(DeliveryJson.From(view))), ResourceErrors.UnknownDelivery());
}

/// <summary>What the webhook handlers take from the request: the caller and its tenant's webhook grain.</summary>
public sealed record WebhookServices(ClaimsPrincipal User, IGrainFactory Grains)
{
    public IWebhookGrain Webhooks => Grains.GetGrain<IWebhookGrain>(User.TenantId());
}
