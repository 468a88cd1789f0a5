using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// <c>Grid:Sandbox</c>: the grid also serves an emulated Atlassian on loopback and offers the <c>atlassian-sandbox</c>
/// provider (aliases <c>confluence-sandbox</c>, <c>jira-sandbox</c>), so the whole connect flow can be tried on a fresh
/// machine without an Atlassian account. Development only: refused in any other environment.
/// </summary>
public sealed class SandboxOptions
{
    public const string Section = "Grid:Sandbox";

    public bool Enabled { get; set; }

    /// <summary>Where the emulated Atlassian listens: plain http on a loopback address, with a fixed port (the
    /// sandbox provider's endpoints are derived from it).</summary>
    public Uri Url { get; set; } = new("http://127.0.0.1:3004");

    /// <summary>The integration registered for the tenant start-up provisions (the development tenant).</summary>
    public string IntegrationKey { get; set; } = "confluence-sandbox";
}

internal sealed class SandboxOptionsValidator(IHostEnvironment environment) : IValidateOptions<SandboxOptions>
{
    public ValidateOptionsResult Validate(string? name, SandboxOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        var errors = new ValidateOptionsResultBuilder();
        // Development only, not merely "not Production": an environment named "Staging", "prod" or "Production " would
        // otherwise run an authorization server that issues tokens to anyone.
        if (!environment.IsDevelopment())
        {
            errors.AddError($"Grid:Sandbox:Enabled is allowed only in Development (the environment is '{environment.EnvironmentName}'): the sandbox serves an emulated Atlassian that issues tokens to anyone.");
        }
        var url = options.Url;
        // A fixed port: the sandbox provider's endpoints are derived from it before the emulator starts.
        if (!url.IsAbsoluteUri || url.Scheme != Uri.UriSchemeHttp || !IsLoopback(url.Host) || url.IsDefaultPort
            || url.AbsolutePath != "/" || !string.IsNullOrEmpty(url.Query))
        {
            errors.AddError("Grid:Sandbox:Url must be an http URL on a loopback address with an explicit port and no path, e.g. http://127.0.0.1:3004.");
        }
        if (!Common.GridKeys.IsValidIntegrationKey(options.IntegrationKey))
        {
            errors.AddError("Grid:Sandbox:IntegrationKey must be an integration key.");
        }
        return errors.Build();
    }

    private static bool IsLoopback(string host) =>
        host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
