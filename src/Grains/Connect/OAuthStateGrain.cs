using System.Text.Json.Nodes;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Integrations;
using ConnectionGrid.OAuth;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Connect;

/// <summary>
/// One authorization in flight (key: the SHA-256 of its <c>state</c>). Single use: the first callback marks it used and
/// persists that before any provider is called, so a replayed state calls nobody and creates nothing.
/// </summary>
public sealed partial class OAuthStateGrain(
    [PersistentState("oauth-state", GridStorage.Name)] IPersistentState<OAuthStateState> state,
    ProviderCatalog providers,
    TokenClient tokens,
    AtlassianSites sites,
    TimeProvider clock,
    Webhooks.WebhookEvents webhookEvents,
    ILogger<OAuthStateGrain> logger) : Grain, IOAuthStateGrain
{
    public async Task Bind(OAuthFlow flow)
    {
        if (state.State.Flow is not null || state.State.Used)
        {
            throw new InvalidOperationException("An OAuth state is bound once.");
        }
        state.State.Flow = flow;
        await state.WriteStateAsync();
    }

    public async Task<Outcome<ConnectResult>> Complete(string? code, string? error) => (await CompleteAsync(code, error, null)).Outcome;

    public Task<ConnectCompletion> Finish(string? code, string? error) => Finish(code, error, null);

    public async Task<ConnectCompletion> Finish(string? code, string? error, string? browserKey)
    {
        var (outcome, flow) = await CompleteAsync(code, error, browserKey);
        return Completion(outcome, flow);
    }

    private static ConnectCompletion Completion(Outcome<ConnectResult> outcome, OAuthFlow? flow) => new ConnectCompletion
        {
            Result = outcome.Succeeded ? outcome.Value : null,
            Problem = outcome.Succeeded ? null : outcome.Problem,
            TenantId = flow?.Session.TenantId,
            IntegrationKey = flow?.IntegrationKey,
        };

    public async Task Discard()
    {
        if (state.State.Flow is not null || state.State.Used)
        {
            await state.ClearStateAsync();
            state.State = new OAuthStateState();
        }
        DeactivateOnIdle();
    }

    private async Task<(Outcome<ConnectResult> Outcome, OAuthFlow? Flow)> CompleteAsync(string? code, string? error, string? browserKey)
    {
        if (state.State.Used)
        {
            DeactivateOnIdle();
            return (FlowProblems.StateUsed(), null);
        }
        if (state.State.Flow is not { } flow)
        {
            // Forged or guessed states must not pile up as activations.
            DeactivateOnIdle();
            return (FlowProblems.UnknownState(), null);
        }
        var otherBrowser = flow.BrowserKey is not null && !SameKey(flow.BrowserKey, browserKey);
        // Used from here on, whatever happens next; the code verifier goes with the rest of the flow. Also when another
        // browser calls back: a code and state that reached somebody else must not be finished later by their sender.
        state.State = new OAuthStateState { Used = true };
        await state.WriteStateAsync();
        if (otherBrowser)
        {
            // Nothing is exchanged, nobody is told, and the page it gets names no tenant.
            return (FlowProblems.OtherBrowser(), null);
        }

        var now = clock.GetUtcNow();
        if (now >= flow.ExpiresAt)
        {
            return (FlowProblems.StateExpired(), flow);
        }
        var outcome = await RunAsync(flow, code, error, now);
        try
        {
            await GrainFactory.GetGrain<IConnectSessionGrain>(flow.SessionKey).Record(new ConnectAttempt
            {
                IntegrationKey = flow.IntegrationKey,
                ConnectionId = outcome.Succeeded ? flow.ConnectionId : null,
                Code = outcome.Succeeded ? "success" : outcome.Problem.Code,
                Message = outcome.Succeeded ? "Connected." : outcome.Problem.Message,
                At = now,
            });
        }
        catch (Exception exception)
        {
            // The record is a courtesy; the outcome is what the user must learn (they may be connected already).
            LogRecordFailed(logger, exception.GetType().Name);
        }
        if (!outcome.Succeeded)
        {
            LogFailed(logger, flow.IntegrationKey, flow.Session.TenantId, outcome.Problem.Code);
            // A success is announced by the connection it stored; a failure only here.
            await webhookEvents.RecordAsync(flow.Session.TenantId, flow.IntegrationKey, flow.ConnectionId, Webhooks.WebhookEvents.Auth(
                flow.Session.ReconnectConnectionId is null ? "creation" : "override", false, flow.IntegrationKey, flow.ConnectionId, null,
                flow.Session.EndUser, outcome.Problem.Code, outcome.Problem.Message));
        }
        if (flow.WaiterKey is { } waiter)
        {
            try
            {
                await GrainFactory.GetGrain<IAuthWaiterGrain>(waiter).Deliver(Completion(outcome, flow));
            }
            catch (Exception exception)
            {
                // The SDK's socket then times out; the page in the popup still tells the user.
                LogRecordFailed(logger, exception.GetType().Name);
            }
        }
        return (outcome, flow);
    }

    private static bool SameKey(string expected, string? presented) =>
        presented is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(presented));

    private async Task<Outcome<ConnectResult>> RunAsync(OAuthFlow flow, string? code, string? error, DateTimeOffset now)
    {
        if (error is not null)
        {
            return error == "access_denied" ? FlowProblems.AccessDenied() : FlowProblems.ProviderRefused();
        }
        if (string.IsNullOrEmpty(code) || code.Length > 4096)
        {
            return Problem.Invalid("missing_code", "The provider sent no authorization code. Go back to the application and connect again.");
        }
        if (!await SessionTenant.IsCurrentAsync(GrainFactory, flow.Session))
        {
            return SessionProblems.Expired();
        }
        var tenantId = flow.Session.TenantId;
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, flow.IntegrationKey)).Get();
        if (integration is null || !providers.TryGet(integration.Provider, out var provider) || integration.ClientId is null || integration.ClientSecret is null)
        {
            return new Problem("unknown_provider_config", "The integration was removed or changed while you were connecting.", ProblemKind.NotFound);
        }
        var connection = GrainFactory.GetGrain<IConnectionGrain>(GridKeys.Connection(tenantId, flow.IntegrationKey, flow.ConnectionId));
        var reconnect = flow.Session.ReconnectConnectionId is not null;
        var existing = await connection.Peek();
        if (reconnect && existing is null)
        {
            return new Problem("unknown_connection", "The connection to reconnect no longer exists. Go back to the application and connect again.", ProblemKind.NotFound);
        }
        if (!reconnect && existing is not null)
        {
            // Checked at the start of the flow too; this covers a connection created meanwhile.
            return SessionProblems.ConnectionExists();
        }

        var exchanged = await tokens.ExchangeCodeAsync(provider, new ClientCredentials(integration.ClientId, integration.ClientSecret), code, flow.RedirectUri, flow.CodeVerifier, CancellationToken.None);
        if (exchanged.Response is not { } response)
        {
            return FlowProblems.ExchangeFailed(exchanged.Failure!.Code);
        }
        if (response.RefreshToken is null && (provider.Lifecycle.RefreshTokenRotation || provider.RequiredScopes.Count > 0))
        {
            return FlowProblems.NoRefreshToken();
        }

        // A reconnect keeps what the connection was configured with; a new one starts from the session's defaults.
        var config = JsonNode.Parse(existing is not null && reconnect ? existing.ConnectionConfigJson
            : flow.Session.ConnectionConfigDefaults.GetValueOrDefault(flow.IntegrationKey) ?? "{}") as JsonObject ?? [];
        if (provider.PostConnection == AtlassianSites.Step)
        {
            var product = string.Equals(integration.Provider, provider.Name, StringComparison.OrdinalIgnoreCase) ? "" : integration.Provider;
            var (withSites, failure) = await sites.AddSitesAsync(provider, product, response.AccessToken, config, CancellationToken.None);
            if (withSites is null)
            {
                return new Problem("post_connection_failed", $"{failure} Go back to the application and connect again.", ProblemKind.Unavailable);
            }
            config = withSites;
        }

        var expiresAt = RefreshPolicy.AccessTokenExpiry(response.ExpiresIn, provider.Lifecycle, now);
        var stored = await connection.Import(new ConnectionImport
        {
            AccessToken = response.AccessToken,
            RefreshToken = response.RefreshToken,
            ExpiresAt = expiresAt,
            RawJson = response.RawJson,
            // A new consent: a new refresh-token family, and the provider's absolute window starts again.
            ConsentedAt = now,
            ConnectionConfigJson = config.ToJsonString(),
            // Metadata is never the flow's; tags are the session's on a new connection and kept on a reconnect.
            MetadataJson = null,
            EndUser = flow.Session.EndUser,
            Tags = reconnect ? null : flow.Session.Tags,
        });
        if (!stored.Succeeded)
        {
            return stored.Problem;
        }
        return new ConnectResult { IntegrationKey = flow.IntegrationKey, ConnectionId = flow.ConnectionId, Reconnected = reconnect };
    }

    [LoggerMessage(LogLevel.Information, "A connect flow of {Integration} for tenant {Tenant} failed: {Code}")]
    private static partial void LogFailed(ILogger logger, string integration, string tenant, string code);

    [LoggerMessage(LogLevel.Warning, "Recording a connect attempt on its session failed ({Error}); the attempt's outcome stands")]
    private static partial void LogRecordFailed(ILogger logger, string error);
}
