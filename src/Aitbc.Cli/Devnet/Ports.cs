using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Aitbc.Cli.Devnet;

/// <summary>Whether a loopback port is free, and if not, which process holds it.</summary>
internal static class Ports
{
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A free port, for a devnet that is not on the usual ones (<c>devnet demo</c>).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>"pid 1234 (aitbc-node --data-dir …)" for the process listening on the port, as far as /proc tells.</summary>
    public static string? Holder(int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the socket's inode.
                if (f.Length > 9 && f[3] == "0A" && int.Parse(f[1][(f[1].IndexOf(':', StringComparison.Ordinal) + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    inodes.Add($"socket:[{f[9]}]");
                }
            }
        }
        if (inodes.Count == 0)
        {
            return null;
        }
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(proc, "fd")))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                    {
                        var cmd = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ').Trim();
                        return $"pid {pid} ({(cmd.Length > 120 ? cmd[..120] + "…" : cmd)})";
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A process that ended meanwhile, or one we may not look into.
            }
        }
        return "another process";
    }
}
