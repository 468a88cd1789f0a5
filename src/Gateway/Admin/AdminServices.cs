using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Gateway.Admin;

/// <summary>What the operator API's handlers take from the request (<c>[AsParameters]</c>): the grains and the request's end.</summary>
public sealed record AdminServices(IGrainFactory Grains, CancellationToken Aborted)
{
    public ITenantGrain Tenant(string tenantId) => Grains.GetGrain<ITenantGrain>(tenantId);
}
