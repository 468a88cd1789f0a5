using System.Security.Claims;
using ConnectionGrid.Common;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Integrations;

namespace ConnectionGrid.Gateway.Integrations;

/// <summary>What the integrations handlers take from the request (<c>[AsParameters]</c>): the caller, the grains, the request's end.</summary>
public sealed record IntegrationServices(ClaimsPrincipal User, IGrainFactory Grains, CancellationToken Aborted)
{
    /// <summary>The caller's tenant, from its key.</summary>
    public string TenantId => User.TenantId();

    /// <summary>The caller's integration of this key: the tenant is always the key's own.</summary>
    public IIntegrationGrain Integration(string uniqueKey) => Grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(TenantId, uniqueKey));
}
