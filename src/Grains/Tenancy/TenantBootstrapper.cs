using System.Security.Cryptography;
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

    /// <summary>The tenant start-up provisions: <c>Grid:Bootstrap</c>'s, else in Development the <c>dev</c> tenant, else none.</summary>
    public static string? StartupTenant(BootstrapOptions options, IHostEnvironment environment) =>
        !string.IsNullOrEmpty(options.TenantId) && !string.IsNullOrEmpty(options.SecretKey) ? options.TenantId
        : environment.IsDevelopment() ? DevTenantId
        : null;

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var options = bootstrap.Value;
        if (!string.IsNullOrEmpty(options.TenantId) && !string.IsNullOrEmpty(options.SecretKey))
        {
            var hash = SecretKeys.Hash(options.SecretKey);
            if (Provisioned(await EnsureKeyAsync(options.TenantId, hash, null), options.TenantId, hash, "Grid:Bootstrap:SecretKey") is { } result)
            {
                LogBootstrapped(logger, options.TenantId, result.KeyId);
            }
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
            var existing = SecretKeys.Hash((await File.ReadAllTextAsync(keyFile)).Trim());
            if (Provisioned(await EnsureKeyAsync(DevTenantId, existing, "Development"), DevTenantId, existing, keyFile) is not null)
            {
                LogDevTenantKept(logger, keyFile);
            }
            return;
        }

        var key = SecretKeys.Generate();
        var hash = SecretKeys.Hash(key);
        Provisioned(await EnsureKeyAsync(DevTenantId, hash, "Development"), DevTenantId, hash, keyFile);
        Storage.PrivateFiles.WriteSecret(keyFile, key);
        // Printed to the console once, on purpose not through the logger: keys never go to logs.
        Console.WriteLine($"""

            Development tenant '{DevTenantId}' created. Its secret key (shown once, also kept in {keyFile}):

                {key}

            """);
    }

    /// <summary>
    /// A key ring that cannot open a tenant the grid must provision is a configuration mistake (a key retired too early,
    /// other material under its id): start-up stops, naming the key id, never the key.
    /// </summary>
    private async Task<Outcome<TenantKeyInfo>> EnsureKeyAsync(string tenantId, string keyHash, string? label)
    {
        try
        {
            return await grains.GetGrain<ITenantGrain>(tenantId).EnsureKey(keyHash, label);
        }
        catch (Exception e) when (KeyProblem(e) is { } key)
        {
            throw new GridConfigurationException($"Grid:Encryption:Keys cannot open tenant '{tenantId}', which start-up provisions: {key.Message}", e);
        }
    }

    private static CryptographicException? KeyProblem(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is CryptographicException found)
            {
                return found;
            }
        }
        return null;
    }

    /// <summary>
    /// The provisioned key; null when configuration names a key that was revoked: a revocation outlives restarts, so the
    /// grid starts without it and says so. Any other failure stops start-up.
    /// </summary>
    private TenantKeyInfo? Provisioned(Outcome<TenantKeyInfo> result, string tenantId, string keyHash, string source)
    {
        if (result.Succeeded)
        {
            return result.Value;
        }
        if (result.Problem.Code == "key_revoked")
        {
            LogRevokedKeyConfigured(logger, source, SecretKeys.KeyIdOfHash(keyHash), tenantId);
            return null;
        }
        if (result.Problem.Code == "tenant_being_deleted")
        {
            // The operator is deleting it (a job that resumes at start-up): the grid must start to finish that.
            LogTenantBeingDeleted(logger, source, tenantId);
            return null;
        }
        throw new InvalidOperationException($"Provisioning tenant '{tenantId}' at start-up failed: {result.Problem.Message}");
    }

    [LoggerMessage(LogLevel.Warning, "{Source} names tenant {Tenant}, which is being deleted: it is not provisioned. Remove it from the configuration, or start again once the deletion is done")]
    private static partial void LogTenantBeingDeleted(ILogger logger, string source, string tenant);

    [LoggerMessage(LogLevel.Warning, "{Source} names key {KeyId} of tenant {Tenant}, which was revoked: it is not provisioned again. Remove it from the configuration")]
    private static partial void LogRevokedKeyConfigured(ILogger logger, string source, string keyId, string tenant);

    [LoggerMessage(LogLevel.Information, "Bootstrap tenant {Tenant} is ready with key {KeyId}")]
    private static partial void LogBootstrapped(ILogger logger, string tenant, string keyId);

    [LoggerMessage(LogLevel.Information, "Development tenant 'dev' is ready; its key is in {KeyFile}")]
    private static partial void LogDevTenantKept(ILogger logger, string keyFile);
}
