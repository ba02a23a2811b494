using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace Aitbc.ServiceDefaults.Networks;

/// <summary>
/// The client network that every per-IP limit is keyed by: an IPv4 address as it is, an IPv6 address cut to its /64 (one
/// subscriber usually holds a whole /64 and can rotate within it for free), an IPv4-mapped IPv6 address folded to its
/// IPv4 address (a dual-stack listener sees IPv4 clients so). Shared by the services, so that they agree.
/// </summary>
public static class ClientNetwork
{
    /// <summary>The network of the request's peer; <see cref="IPAddress.None"/> when it has none (an in-process test server).</summary>
    public static IPAddress Of(HttpContext http) => Of(http.Connection.RemoteIpAddress);

    /// <summary>The network of <paramref name="ip"/>: IPv4 as is, IPv4-mapped IPv6 as its IPv4, other IPv6 cut to its /64.</summary>
    public static IPAddress Of(IPAddress? ip)
    {
        if (ip is null)
        {
            return IPAddress.None;
        }
        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4();
        }
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip;
        }
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    /// <summary>The network as a key for a table of limits (its text form).</summary>
    public static string KeyOf(HttpContext http) => Of(http).ToString();
}
