namespace ConnectionGrid.Sandbox;

/// <summary>
/// The OAuth app registered at the sandbox's emulated Atlassian: its client secret is new at every start (the emulator
/// keeps nothing across restarts), and start-up writes it into the sandbox integration.
/// </summary>
public sealed class SandboxApp
{
    public string ClientId { get; } = "connectiongrid-sandbox";

    public string ClientSecret { get; } = Tenancy.SecretKeys.RandomToken();

    /// <summary>The one site the sandbox grant covers; fixed, so a connection's cloudId reads the same in every run.</summary>
    public const string CloudId = "5a9d0c1e-0000-4000-8000-5a9db0c5a9d0";

    public const string SiteName = "sandbox";

    public const string Scopes = "read:confluence-content.all read:page:confluence read:space:confluence offline_access";
}
