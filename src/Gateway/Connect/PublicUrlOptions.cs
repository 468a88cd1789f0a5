using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using ConnectionGrid.Common;

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
    public const string RequiredCode = "public_url_required";

    public string Base => (options.Value.PublicUrl ?? ListenAddress
        ?? throw new InvalidOperationException("The server listens on no address yet and Grid:PublicUrl is not set.")).TrimEnd('/');

    /// <summary>
    /// Why no link can be made, or null: without <c>Grid:PublicUrl</c> a server listening on every address
    /// (<c>http://+:8080</c>, the usual container setting) has no host a browser could be sent to.
    /// </summary>
    public Problem? Unusable => options.Value.PublicUrl is null && ListenAddress is { } address
        && !(Uri.TryCreate(address, UriKind.Absolute, out var url) && url.Host is not ("0.0.0.0" or "[::]" or "::"))
        ? new Problem(RequiredCode, "The grid listens on every address and cannot tell which one browsers reach: its operator must set Grid:PublicUrl.", ProblemKind.StorageUnavailable)
        : null;

    public string Callback => Base + "/oauth/callback";

    public string ConnectLink(string sessionToken) => $"{Base}/connect?session={Uri.EscapeDataString(sessionToken)}";

    private string? ListenAddress => server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
}
