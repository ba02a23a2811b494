using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for one fixture: a fresh cluster (initdb) in a temp folder, a postmaster on a
/// free loopback port, killed with everything it started on dispose. PostgreSQL refuses to run as root,
/// so as root both run as the <c>postgres</c> OS user (through runuser).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _dir;
    private readonly Process _postmaster;
    private readonly StringBuilder _log;
    private readonly string _bin;

    private PostgresServer(string dir, string bin, Process postmaster, StringBuilder log, int port)
    {
        _dir = dir;
        _bin = bin;
        _postmaster = postmaster;
        _log = log;
        Port = port;
    }

    public int Port { get; }

    /// <summary>A connection string for a database on this server (the superuser, trust authentication).</summary>
    public string ConnectionString(string database, int maxPool = 50) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = database,
            MaxPoolSize = maxPool,
            Timeout = 30,
            CommandTimeout = 60,
        }.ToString();

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinaries();
        var dir = Path.Combine(Path.GetTempPath(), $"aitbc-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var asRoot = Environment.IsPrivilegedProcess;
        if (asRoot)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", dir]);
        }
        var data = Path.Combine(dir, "data");
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], asRoot);
        var port = FreePort();
        var log = new StringBuilder();
        var postmaster = Process.Start(StartInfo(Path.Combine(bin, "postgres"),
        [
            "-D", data, "-p", port.ToString(CultureInfo.InvariantCulture), "-k", dir, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=400",
        ], asRoot))!;
        postmaster.OutputDataReceived += (_, e) => Append(log, e.Data);
        postmaster.ErrorDataReceived += (_, e) => Append(log, e.Data);
        postmaster.BeginOutputReadLine();
        postmaster.BeginErrorReadLine();
        var server = new PostgresServer(dir, bin, postmaster, log, port);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (postmaster.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"postgres exited with {postmaster.ExitCode}:\n{server.Log}");
            }
            try
            {
                await using var c = new NpgsqlConnection(server.ConnectionString("postgres"));
                await c.OpenAsync();
                return server;
            }
            catch (Exception e) when (e is NpgsqlException or SocketException or IOException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Creates an empty database (one per test class) and answers its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, int maxPool = 50)
    {
        await using var c = new NpgsqlConnection(ConnectionString("postgres"));
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"CREATE DATABASE \"{name}\"";
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name, maxPool);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (!_postmaster.HasExited)
        {
            // Immediate shutdown ends the postmaster and its backends; a kill of the whole tree follows if it did not.
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "-t", "20"], Environment.IsPrivilegedProcess);
            }
            catch (InvalidOperationException)
            {
                // pg_ctl failed: the kill below ends it.
            }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _postmaster.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _postmaster.Kill(entireProcessTree: true);
                await _postmaster.WaitForExitAsync();
            }
        }
        _postmaster.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Cleaned by the system eventually.
        }
    }

    /// <summary>The server binaries: <c>pg_config --bindir</c> when it has them, else the newest /usr/lib/postgresql/*/bin.</summary>
    private static string FindBinaries()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("pg_config", "--bindir") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var dir = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode == 0 && File.Exists(Path.Combine(dir, "postgres")) && File.Exists(Path.Combine(dir, "initdb")))
            {
                return dir;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No pg_config on the PATH.
        }
        var found = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), CultureInfo.InvariantCulture, out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException("No PostgreSQL server binaries (initdb, postgres) found: install postgresql (.ci/run does).");
    }

    private static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgres)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program })
            {
                info.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        return info;
    }

    private static async Task RunAsync(string program, IEnumerable<string> args, bool asPostgres = false)
    {
        using var p = Process.Start(StartInfo(program, args, asPostgres))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} exited with {p.ExitCode}:\n{await stdout}{await stderr}");
        }
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (log)
        {
            log.AppendLine(line);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
