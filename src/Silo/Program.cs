using ConnectionGrid;
using ConnectionGrid.Gateway;
using ConnectionGrid.Gateway.Health;
using ConnectionGrid.Gateway.Telemetry;
using ConnectionGrid.Gateway.Grpc;
using ConnectionGrid.Hosting;
using Orleans.Dashboard;

// A silo: on SQLite a complete single-node grid with the HTTP API co-hosted; on PostgreSQL one silo of a cluster, with
// the HTTP API co-hosted (Grid:Silo:ServeHttp, the default) or left to separate gateways (src/Gateway).
try
{
    if (args is [MigrateCommand.Name, ..])
    {
        return await MigrateCommand.RunAsync(args[1..]);
    }

    // No file watching for configuration: it changes by restart, and a watcher on the content root would wake on every
    // write of the database kept below it (the default data directory). First, so no valueless argument can swallow it.
    // The content root is the application's folder, so its appsettings.json (log levels among them) applies from whatever
    // working directory the grid is started in; Grid:DataDirectory stays relative to the working directory.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = ["--hostBuilder:reloadConfigOnChange=false", .. SandboxHostingExtensions.WithSandboxSwitch(args)],
        ContentRootPath = AppContext.BaseDirectory,
    });

    builder.UseGridDefaultUrls();
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = GridGatewayExtensions.MaxRequestBodyBytes);

    var topology = SiloTopology.Read(builder.Configuration);
    var telemetry = TelemetryOptions.Read(builder.Configuration);
    builder.UseOrleans(silo =>
    {
        silo.UseGridClustering(builder.Configuration).AddConnectionGrid();
        // The propagation filter runs on every grain call, listened to or not (measured: 8 % of a warm get-token's CPU).
        if (TelemetryOptions.TracesExported(builder.Configuration))
        {
            silo.AddActivityPropagation();
        }
        // The dashboard is served with the API (behind the operator key); a silo without the API does not collect for it.
        if (telemetry.Dashboard && topology.ServeHttp)
        {
            silo.AddDashboard();
        }
    });
    builder.Services.AddSingleton<IDatabaseProbe, GridStorageProbe>();

    if (topology.ServeHttp)
    {
        builder.Services.AddGridGateway();
        builder.Services.AddGridGrpc();
    }
    else
    {
        builder.Services.AddGridHealth();
    }
    builder.Services.AddGridTelemetry(builder.Configuration);
    builder.Services.AddGridSandboxServer();

    await using var app = builder.Build();
    ConfigurationErrors.Validate(app.Services);
    if (topology.ServeHttp)
    {
        app.UseGridMiddleware();
        app.MapGridApi();
        app.MapGridGrpc();
    }
    else
    {
        app.MapGridHealth();
    }
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (ConfigurationErrors.Describe(e) is { Count: > 0 } mistakes)
{
    foreach (var mistake in mistakes)
    {
        Console.Error.WriteLine($"Configuration error: {mistake}");
    }
    return ConfigurationErrors.ExitCode;
}
