using ConnectionGrid.Gateway.Health;
using ConnectionGrid.Storage;

namespace ConnectionGrid.Hosting;

/// <summary>A silo's readiness needs its database: the grid's own storage, probed outside the pool.</summary>
public sealed class GridStorageProbe(GridStorage storage) : IDatabaseProbe
{
    public Task ProbeAsync(CancellationToken cancellationToken) => storage.ProbeAsync(cancellationToken);
}
