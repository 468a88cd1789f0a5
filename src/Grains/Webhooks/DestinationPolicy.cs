using System.Net;
using System.Net.Sockets;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// Where webhooks may go. A tenant's URL must not reach the grid's own network: https only, and no private, loopback,
/// link-local or otherwise internal address, checked on the URL when it is saved and on every address DNS gives when
/// a delivery connects (<see cref="WebhookSender"/>), so a name that later resolves inside (DNS rebinding) is refused
/// too. <c>Grid:Webhooks:AllowPrivateNetworks</c> lifts both (tests, local development).
/// </summary>
public static class DestinationPolicy
{
    public const int MaxUrlLength = 2048;

    /// <summary>Why a URL cannot be a webhook destination, or null when it can.</summary>
    public static string? CheckUrl(string? url, bool allowPrivate)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "must be an absolute URL";
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowPrivate && uri.Scheme == Uri.UriSchemeHttp))
        {
            return "must use https";
        }
        if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Fragment))
        {
            return "must not carry credentials or a fragment";
        }
        if (allowPrivate)
        {
            return null;
        }
        var host = uri.IdnHost.TrimEnd('.'); // "localhost." is localhost
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".local", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".internal", StringComparison.OrdinalIgnoreCase))
        {
            return "must not point to a private, loopback or link-local destination";
        }
        if (IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? host.Trim('[', ']') : host, out var address) && !IsPublic(address))
        {
            return "must not point to a private, loopback or link-local destination";
        }
        return null;
    }

    /// <summary>Whether an address is on the public internet (what a webhook may connect to without the operator's switch).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)      // carrier-grade NAT
                || (b[0] == 169 && b[1] == 254)                    // link-local (cloud metadata)
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)     // IETF protocol assignments, TEST-NET-1
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)      // TEST-NET-2
                || (b[0] == 203 && b[1] == 0 && b[2] == 113)       // TEST-NET-3
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))     // benchmarking
                || b[0] >= 224);                                   // multicast, reserved
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            // Translation prefixes reach the IPv4 address they carry: judge that one, as a gateway would forward to it.
            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
            {
                // 64:ff9b::/96 (well-known NAT64) carries it in the last 4 bytes; 64:ff9b:1::/48 is for local use
                // (RFC 8215, not globally reachable), and the rest of 64:ff9b::/32 is unassigned.
                return b[4..12].IndexOfAnyExcept((byte)0) < 0 && IsPublic(new IPAddress(b[12..]));
            }
            if (b[0] == 0x20 && b[1] == 0x02)
            {
                return IsPublic(new IPAddress(b[2..6])); // 6to4 2002::/16
            }
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
            {
                return false; // Teredo 2001::/32: a tunnel whose relay and embedded server cannot be judged from here
            }
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc                           // unique local fc00::/7
                || (b[0] == 0 && b[1] == 0)                        // ::/16: unspecified, loopback, v4-compatible
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)); // documentation
        }
        return false;
    }
}
