using System.Security.Claims;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Authentication;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>What the connections handlers take from the request (<c>[AsParameters]</c>): the caller, the grains, the request's end.</summary>
public sealed record ConnectionServices(
    ClaimsPrincipal User, IGrainFactory Grains, LocalConnectionSnapshots Snapshots, TimeProvider Clock, CancellationToken Aborted)
{
    /// <summary>The caller's tenant, from its key.</summary>
    public string TenantId => User.TenantId();

    /// <summary>
    /// The caller's connection: the tenant is always the key's own. On the <c>{connectionId}</c> routes the route value
    /// rules have checked <c>provider_config_key</c> before the handler runs, so it is never null there.
    /// </summary>
    public IConnectionGrain Connection(string? integrationKey, string connectionId) =>
        Grains.GetGrainByKey<IConnectionGrain>(ConnectionKey(integrationKey, connectionId));

    /// <summary>The caller's connection's grain key (see <see cref="Connection"/>).</summary>
    public string ConnectionKey(string? integrationKey, string connectionId) =>
        GridKeys.Connection(TenantId, integrationKey ?? throw new ArgumentNullException(nameof(integrationKey)), connectionId);
}
