using ConnectionGrid.Sandbox;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>One real grid process and one emulated Atlassian shared by the HTTP API tests of this class.</summary>
public sealed class GridProcessFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public AtlassianEmulator Emulator { get; private set; } = null!;

    public SiloProcess Silo { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Emulator = await AtlassianEmulator.StartAsync();
        Silo = new SiloProcess(_directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = Emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = Emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = Emulator.ApiBaseUrl,
            ["Logging:LogLevel:Default"] = "Trace",
            // Tests of one class share this process and address; the throttle has its own test and process.
            ["Grid:RateLimits:AuthFailuresPerMinute"] = "0",
        });
        await Silo.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Silo.DisposeAsync();
        await Emulator.DisposeAsync();
        _directory.Dispose();
    }
}
