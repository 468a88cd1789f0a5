namespace ConnectionGrid.Storage;

/// <summary>Runs the schema migrations first thing in the silo's start, before any Orleans provider reads its queries.</summary>
public sealed class GridMigrationsParticipant(GridMigrations migrations) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(GridMigrationsParticipant), ServiceLifecycleStage.First, migrations.ApplyAsync);
}
