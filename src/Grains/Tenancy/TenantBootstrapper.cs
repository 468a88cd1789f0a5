using ConnectionGrid.Common;
using ConnectionGrid.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Tenancy;

/// <summary>
/// Provisions tenants at start-up: the configured bootstrap tenant (automation, tests) and, in Development only,
/// a <c>dev</c> tenant whose generated key is printed once and kept in the data directory.
/// </summary>
public sealed partial class TenantBootstrapper(
    IGrainFactory grains,
    IOptions<BootstrapOptions> bootstrap,
    IOptions<GridOptions> grid,
    IHostEnvironment environment,
    ILogger<TenantBootstrapper> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public const string DevTenantId = "dev";

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TenantBootstrapper), ServiceLifecycleStage.Active, RunAsync);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var options = bootstrap.Value;
        if (!string.IsNullOrEmpty(options.TenantId) && !string.IsNullOrEmpty(options.SecretKey))
        {
            var result = Check(await grains.GetGrain<ITenantGrain>(options.TenantId).EnsureKey(SecretKeys.Hash(options.SecretKey), null));
            LogBootstrapped(logger, options.TenantId, result.KeyId);
            return;
        }

        if (environment.IsDevelopment())
        {
            await EnsureDevTenantAsync();
        }
    }

    private async Task EnsureDevTenantAsync()
    {
        var keyFile = Path.Combine(Path.GetFullPath(grid.Value.DataDirectory), "dev-secret-key");
        if (File.Exists(keyFile))
        {
            var existing = (await File.ReadAllTextAsync(keyFile)).Trim();
            Check(await grains.GetGrain<ITenantGrain>(DevTenantId).EnsureKey(SecretKeys.Hash(existing), "Development"));
            LogDevTenantKept(logger, keyFile);
            return;
        }

        var key = SecretKeys.Generate();
        Check(await grains.GetGrain<ITenantGrain>(DevTenantId).EnsureKey(SecretKeys.Hash(key), "Development"));
        Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
        await File.WriteAllTextAsync(keyFile, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        // Printed to the console once, on purpose not through the logger: keys never go to logs.
        Console.WriteLine($"""

            Development tenant '{DevTenantId}' created. Its secret key (shown once, also kept in {keyFile}):

                {key}

            """);
    }

    private static TenantKeyInfo Check(Outcome<TenantKeyInfo> result) =>
        result.Succeeded ? result.Value! : throw new InvalidOperationException($"Provisioning a tenant at start-up failed: {result.Problem!.Message}");

    [LoggerMessage(LogLevel.Information, "Bootstrap tenant {Tenant} is ready with key {KeyId}")]
    private static partial void LogBootstrapped(ILogger logger, string tenant, string keyId);

    [LoggerMessage(LogLevel.Information, "Development tenant 'dev' is ready; its key is in {KeyFile}")]
    private static partial void LogDevTenantKept(ILogger logger, string keyFile);
}
