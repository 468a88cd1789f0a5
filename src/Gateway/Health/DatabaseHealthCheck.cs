using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConnectionGrid.Gateway.Health;

/// <summary>Reaches the grid's database: the host registers how (a silo through its storage, a gateway through its membership pool).</summary>
public interface IDatabaseProbe
{
    /// <summary>Opens a connection and reads; throws when the database cannot be reached or read.</summary>
    Task ProbeAsync(CancellationToken cancellationToken);
}

/// <summary>Ready needs the database: a silo cannot load or save state without it, and a gateway finds silos in it.</summary>
public sealed class DatabaseHealthCheck(IEnumerable<IDatabaseProbe> probes) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            foreach (var probe in probes)
            {
                await probe.ProbeAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception)
        {
            // The type only: a driver's message may name the server, the user or the file.
            return HealthCheckResult.Unhealthy($"The database is not answering ({exception.GetType().Name}).");
        }
    }
}
