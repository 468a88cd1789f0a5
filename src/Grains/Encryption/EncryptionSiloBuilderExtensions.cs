using ConnectionGrid.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Encryption;

public static class EncryptionSiloBuilderExtensions
{
    /// <summary>The key ring (<c>Grid:Encryption</c>) and the cipher that seals every stored grain state, and the re-encryption pass.</summary>
    public static ISiloBuilder AddGridEncryption(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<EncryptionOptions>().BindConfiguration(EncryptionOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EncryptionOptions>, EncryptionOptionsValidator>();
        services.AddSingleton(CreateKeyRing);
        services.AddSingleton(sp => new StateCipher(sp.GetRequiredService<KeyRing>(), sp.GetRequiredService<IOptions<EncryptionOptions>>().Value.RequireBoundRows));
        services.AddSingleton<StorageReencryption>();
        // A state that fails its integrity check is never served, but can be deleted.
        services.AddSingleton<RefusedStates>();
        silo.AddIncomingGrainCallFilter<RefusedStateCallFilter>();
        return silo;
    }

    /// <summary>The configured ring; without one (the validator allows that in Development only) the development key.</summary>
    private static KeyRing CreateKeyRing(IServiceProvider services)
    {
        if (KeyRing.FromOptions(services.GetRequiredService<IOptions<EncryptionOptions>>().Value) is { } configured)
        {
            return configured;
        }
        var dataDirectory = services.GetRequiredService<IOptions<GridOptions>>().Value.DataDirectory;
        var ring = KeyRing.LoadOrCreateDevelopmentKey(dataDirectory, out var created);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("ConnectionGrid.Encryption");
        logger.LogWarning("No Grid:Encryption:Keys configured: using the development key in {DataDirectory} ({State})",
            Path.GetFullPath(dataDirectory), created ? "generated now" : "generated earlier");
        return ring;
    }
}
