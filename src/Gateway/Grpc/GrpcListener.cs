using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// Kestrel's endpoints when gRPC has a port of its own. An endpoint declared in code makes Kestrel ignore the URLs from
/// configuration (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>HTTP_PORTS</c>), so those are declared again here as they
/// were, HTTP/1.1; the gRPC port is added, HTTP/2 only, on the same addresses.
/// </summary>
public static class GrpcListener
{
    /// <summary>Kestrel's own default when nothing says where to listen.</summary>
    private const string KestrelDefault = "http://localhost:5000";

    public static void Configure(KestrelServerOptions kestrel, IConfiguration configuration, int grpcPort)
    {
        if (!TryReadHttpAddresses(configuration, out var addresses, out var mistake))
        {
            throw new InvalidOperationException(mistake); // the options validator has said so at start-up already
        }
        foreach (var address in addresses)
        {
            Listen(kestrel, address.Host, address.Port, HttpProtocols.Http1);
        }
        // One gRPC listener per distinct host; an "any address" host covers the others.
        var hosts = addresses.Select(a => a.Host).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (hosts.Any(IsAnyAddress))
        {
            hosts = [hosts.First(IsAnyAddress)];
        }
        foreach (var host in hosts)
        {
            Listen(kestrel, host, grpcPort, HttpProtocols.Http2);
        }
    }

    /// <summary>The HTTP API's addresses from the configuration ASP.NET Core reads; false with the reason when one is not plain http.</summary>
    public static bool TryReadHttpAddresses(IConfiguration configuration, out IReadOnlyList<BindingAddress> addresses, out string mistake)
    {
        var list = new List<BindingAddress>();
        addresses = list;
        mistake = "";
        var urls = configuration["urls"];
        var ports = configuration["http_ports"];
        if (!string.IsNullOrEmpty(configuration["https_ports"]))
        {
            mistake = "Grid:Grpc:Port needs plain http addresses; with HTTPS_PORTS declare the endpoints in Kestrel:Endpoints instead.";
            return false;
        }
        if (string.IsNullOrWhiteSpace(urls) && !string.IsNullOrWhiteSpace(ports))
        {
            foreach (var port in ports.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                urls = (urls is null ? "" : urls + ";") + $"http://*:{port}";
            }
        }
        foreach (var url in (string.IsNullOrWhiteSpace(urls) ? KestrelDefault : urls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                mistake = $"Grid:Grpc:Port: the HTTP address '{url}' cannot be read.";
                return false;
            }
            if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase) || address.IsUnixPipe || address.IsNamedPipe)
            {
                mistake = $"Grid:Grpc:Port needs plain http addresses ('{url}' is not); with TLS declare the endpoints in Kestrel:Endpoints instead.";
                return false;
            }
            list.Add(address);
        }
        return true;
    }

    private static bool IsAnyAddress(string host) => host is "*" or "+" or "0.0.0.0" or "[::]" or "::" || !(host == "localhost" || IPAddress.TryParse(host.Trim('[', ']'), out _));

    private static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        Action<ListenOptions> configure = o => o.Protocols = protocols;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel binds localhost to both loopbacks, but not on a dynamic port.
            if (port == 0)
            {
                kestrel.Listen(IPAddress.Loopback, 0, configure);
            }
            else
            {
                kestrel.ListenLocalhost(port, configure);
            }
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
        {
            kestrel.Listen(ip, port, configure);
        }
        else
        {
            kestrel.ListenAnyIP(port, configure);
        }
    }
}
