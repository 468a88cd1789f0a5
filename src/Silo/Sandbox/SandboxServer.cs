using System.Net.Sockets;
using ConnectionGrid.Configuration;
using ConnectionGrid.Sandbox;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Hosting;

/// <summary>
/// Serves the sandbox's emulated Atlassian (the same emulator the tests use) on loopback while <c>Grid:Sandbox:Enabled</c>:
/// a consent page with Accept and Deny, the token endpoint with rotation and Atlassian's windows on the grid's clock,
/// accessible-resources with one site, and the API under <c>/ex/{product}/{cloudId}/</c>. It keeps everything in memory.
/// </summary>
internal sealed partial class SandboxServer(
    IOptions<SandboxOptions> options,
    SandboxApp app,
    TimeProvider clock,
    ILogger<SandboxServer> logger) : IHostedService
{
    private AtlassianEmulator? _emulator;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var sandbox = options.Value;
        if (!sandbox.Enabled)
        {
            return;
        }
        try
        {
            _emulator = await AtlassianEmulator.StartAsync(new AtlassianEmulatorOptions
            {
                ListenUrl = sandbox.Url.GetLeftPart(UriPartial.Authority),
                InteractiveConsent = true,
                AppName = "ConnectionGrid sandbox",
                ClientId = app.ClientId,
                ClientSecret = app.ClientSecret,
                Sites = [new AtlassianSite(SandboxApp.CloudId, SandboxApp.SiteName)],
            }, clock);
        }
        catch (IOException e) when (e.InnerException is SocketException or null)
        {
            throw new GridConfigurationException($"Grid:Sandbox:Url: cannot listen on {sandbox.Url} ({e.Message}); choose another port.", e);
        }
        LogServing(logger, _emulator.BaseUrl);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
            _emulator = null;
        }
    }

    [LoggerMessage(LogLevel.Warning, "Sandbox on: an emulated Atlassian serves {Url} (never use this in production)")]
    private static partial void LogServing(ILogger logger, Uri url);
}

public static class SandboxHostingExtensions
{
    /// <summary><c>--sandbox</c> on the command line is <c>Grid:Sandbox:Enabled=true</c>.</summary>
    public static string[] WithSandboxSwitch(string[] args) =>
        [.. args.Select(arg => arg == "--sandbox" ? $"--{SandboxOptions.Section}:Enabled=true" : arg)];

    public static IServiceCollection AddGridSandboxServer(this IServiceCollection services) =>
        services.AddHostedService<SandboxServer>();
}
