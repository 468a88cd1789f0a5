using ConnectionGrid.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Encryption;

public static class EncryptionSiloBuilderExtensions
{
    /// <summary>The key ring (<c>Grid:Encryption</c>) and the cipher that seals every stored grain state, and the re-encryption pass.</summary>
    public static ISiloBuilder AddGridEncryption(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        var grid = configuration.GetSection(GridOptions.Section).Get<GridOptions>() ?? new GridOptions();
        var encryption = configuration.GetSection(EncryptionOptions.Section).Get<EncryptionOptions>() ?? new EncryptionOptions();
        services.AddSingleton(sp => CreateKeyRing(encryption, grid, sp));
        services.AddSingleton(sp => new StateCipher(sp.GetRequiredService<KeyRing>(), encryption.RequireBoundRows));
        services.AddSingleton<StorageReencryption>();
        return silo;
    }

    private static KeyRing CreateKeyRing(EncryptionOptions options, GridOptions grid, IServiceProvider services)
    {
        if (KeyRing.FromOptions(options) is { } configured)
        {
            return configured;
        }
        if (!services.GetRequiredService<IHostEnvironment>().IsDevelopment())
        {
            throw new InvalidOperationException(
                "Grid:Encryption:Keys is required outside Development: the grid will not store tokens unencrypted. " +
                "Set Grid__Encryption__Keys__0__Id, Grid__Encryption__Keys__0__Key (32 random bytes, base64) and Grid__Encryption__ActiveKeyId.");
        }
        var ring = KeyRing.LoadOrCreateDevelopmentKey(grid.DataDirectory, out var created);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("ConnectionGrid.Encryption");
        logger.LogWarning("No Grid:Encryption:Keys configured: using the development key in {DataDirectory} ({State})",
            Path.GetFullPath(grid.DataDirectory), created ? "generated now" : "generated earlier");
        return ring;
    }
}
