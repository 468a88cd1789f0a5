using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Connect;

/// <summary><c>Grid:PublicUrl</c>: the grid's externally visible base URL (behind a proxy, the proxy's).</summary>
public sealed class PublicUrlOptions
{
    public const string Section = "Grid";

    /// <summary>Null: the first address the server listens on. The OAuth callback is <c>{PublicUrl}/oauth/callback</c>.</summary>
    public string? PublicUrl { get; set; }
}

internal sealed class PublicUrlOptionsValidator : IValidateOptions<PublicUrlOptions>
{
    public ValidateOptionsResult Validate(string? name, PublicUrlOptions options) =>
        options.PublicUrl is null || (Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var url)
            && url.Scheme is "http" or "https" && url.Query.Length == 0 && url.Fragment.Length == 0 && url.UserInfo.Length == 0)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("Grid:PublicUrl must be an absolute http(s) URL without query, fragment or credentials, such as https://grid.example.com.");
}

/// <summary>The grid's base URL for links it hands out: <c>Grid:PublicUrl</c>, else the first listen address (known once the server runs).</summary>
public sealed class PublicUrl(IOptions<PublicUrlOptions> options, IServer server)
{
    public string Base => (options.Value.PublicUrl ?? server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? throw new InvalidOperationException("The server listens on no address yet and Grid:PublicUrl is not set.")).TrimEnd('/');

    public string Callback => Base + "/oauth/callback";

    public string ConnectLink(string sessionToken) => $"{Base}/connect?session={Uri.EscapeDataString(sessionToken)}";
}
