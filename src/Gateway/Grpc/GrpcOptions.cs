using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// <c>Grid:Grpc</c>: the gRPC service's own port. Env override: <c>Grid__Grpc__Port=3004</c>.
/// <para>gRPC needs HTTP/2, and Kestrel offers HTTP/1.1 and HTTP/2 on one plaintext port only through TLS (ALPN): so
/// without TLS gRPC gets a port of its own that speaks HTTP/2 only (prior knowledge, h2c), bound on the same addresses as
/// the HTTP API. With TLS endpoints (<c>Kestrel:Endpoints</c>, <c>Protocols: Http1AndHttp2</c>) gRPC is served on them
/// and this setting stays unset.</para>
/// </summary>
public sealed class GrpcOptions
{
    public const string Section = "Grid:Grpc";

    /// <summary>0 (the default): no port of its own.</summary>
    public int Port { get; set; }
}

/// <summary>The port, and the HTTP addresses it is bound next to: every one must be a plain <c>http://</c> address.</summary>
internal sealed class GrpcOptionsValidator(IConfiguration configuration) : IValidateOptions<GrpcOptions>
{
    public ValidateOptionsResult Validate(string? name, GrpcOptions options)
    {
        if (options.Port is < 0 or > 65535)
        {
            return ValidateOptionsResult.Fail("Grid:Grpc:Port must be a TCP port (1-65535), or 0 for none.");
        }
        if (options.Port == 0)
        {
            return ValidateOptionsResult.Success;
        }
        if (configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            return ValidateOptionsResult.Fail("Grid:Grpc:Port cannot be combined with Kestrel:Endpoints: declare the gRPC endpoint there (Protocols: Http2, or Http1AndHttp2 with TLS) and leave Grid:Grpc:Port unset.");
        }
        if (!GrpcListener.TryReadHttpAddresses(configuration, out var addresses, out var mistake))
        {
            return ValidateOptionsResult.Fail(mistake);
        }
        if (addresses.Any(a => a.Port == options.Port))
        {
            return ValidateOptionsResult.Fail($"Grid:Grpc:Port ({options.Port.ToString(CultureInfo.InvariantCulture)}) is the HTTP API's port too: gRPC needs a port of its own.");
        }
        return ValidateOptionsResult.Success;
    }
}
