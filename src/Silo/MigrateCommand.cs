using ConnectionGrid.Storage;

namespace ConnectionGrid.Hosting;

/// <summary>
/// <c>Silo migrate</c>: applies the grid database's migrations (same settings as the silo) and exits, so an operator
/// can update the schema before rolling silos. Silos apply them at start-up too, under the same PostgreSQL lock.
/// </summary>
public static class MigrateCommand
{
    public const string Name = "migrate";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false", .. args],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.AddGridDatabase();
        using var host = builder.Build();
        ConfigurationErrors.Validate(host.Services);
        await host.Services.GetRequiredService<GridMigrations>().ApplyAsync();
        return 0;
    }
}
