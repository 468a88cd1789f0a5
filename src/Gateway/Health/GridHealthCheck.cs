using ConnectionGrid.Tenancy;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConnectionGrid.Gateway.Health;

/// <summary>The grid can serve when a grain can be activated and its state read from the database.</summary>
public sealed class GridHealthCheck(IGrainFactory grains) : IHealthCheck
{
    /// <summary>The checks <c>GET /health</c> runs (this one, as before <c>/health/ready</c> existed).</summary>
    public const string Tag = "grains";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // "__health" can never be a tenant id (ids start with a letter or digit), so this touches no tenant.
            await grains.GetGrain<ITenantGrain>("__health").Exists().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception)
        {
            return HealthCheckResult.Unhealthy($"Grain storage is not answering ({exception.GetType().Name}).");
        }
    }
}
