using ConnectionGrid.Gateway;
using ConnectionGrid.Gateway.Cluster;
using ConnectionGrid.Gateway.Telemetry;
using ConnectionGrid.Gateway.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// The HTTP API as its own process: an Orleans client of a cluster of silos on PostgreSQL. Several can run at once.
try
{
    // Configuration changes by restart; the content root is the application's folder (its appsettings.json applies).
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = ["--hostBuilder:reloadConfigOnChange=false", .. args],
        ContentRootPath = AppContext.BaseDirectory,
    });
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = GridGatewayExtensions.MaxRequestBodyBytes);
    builder.UseGridClusterClient();
    builder.Services.AddGridGateway();
    builder.Services.AddGridTelemetry(builder.Configuration);
    builder.Services.AddGridGrpc();

    await using var app = builder.Build();
    app.UseGridMiddleware();
    app.MapGridApi();
    app.MapGridGrpc();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is GatewayConfigurationException or OptionsValidationException)
{
    var mistakes = e is OptionsValidationException invalid ? invalid.Failures : [e.Message];
    foreach (var mistake in mistakes)
    {
        Console.Error.WriteLine($"Configuration error: {mistake}");
    }
    return 78; // EX_CONFIG, as the silo
}
