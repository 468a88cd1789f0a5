using System.Security.Claims;
using ConnectionGrid.Connect;
using ConnectionGrid.Gateway.Authentication;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>What the connect-session handlers take from the request (<c>[AsParameters]</c>).</summary>
public sealed record ConnectServices(ClaimsPrincipal User, IGrainFactory Grains, PublicUrl PublicUrl, CancellationToken Aborted)
{
    /// <summary>The caller's tenant, from its key.</summary>
    public string TenantId => User.TenantId();

    public IConnectSessionGrain Session(string token) => Grains.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(token));

    public IConnectSettingsGrain Settings() => Grains.GetGrain<IConnectSettingsGrain>(TenantId);
}
