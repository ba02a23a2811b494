using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Aitbc.Cli.Tests.Infrastructure;

/// <summary>What a run of the built <c>aitbc</c> gave: exit code, stdout, stderr.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    public JsonElement Json => JsonDocument.Parse(Out).RootElement;

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}

/// <summary>The built <c>aitbc</c>, run as a real process with its own AITBC_HOME.</summary>
public sealed class AitbcProcess(string home)
{
    public string Home => home;

    public async Task<CliRun> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add(BuiltExecutable.Of("Aitbc.Cli", "aitbc"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["AITBC_HOME"] = home;
        info.Environment.Remove("AITBC_PROFILE");
        using var p = Process.Start(info)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        return new CliRun(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>A base port with the four after it free (a devnet's ports).</summary>
    public static int FreeBasePort()
    {
        for (var i = 0; i < 50; i++)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var b = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            if (b < 60000 && Enumerable.Range(b, 4).All(Free))
            {
                return b;
            }
        }
        throw new InvalidOperationException("no four free ports in a row");
    }

    private static bool Free(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>One devnet for the suite, brought up by <c>aitbc devnet up</c> in a temporary AITBC_HOME, and taken down after.</summary>
public sealed class DevnetFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDir _dir = new();

    public AitbcProcess Cli { get; private set; } = null!;
    public CliRun Up { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cli = new AitbcProcess(_dir.Path);
        Up = await Cli.RunAsync("devnet", "up", "--base-port", AitbcProcess.FreeBasePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--ollama", "http://127.0.0.1:1", "--json");
        Assert.True(Up.ExitCode == 0, Up.ToString());
    }

    public async Task DisposeAsync()
    {
        await Cli.RunAsync("devnet", "down");
    }

    public void Dispose() => _dir.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DevnetCollection : ICollectionFixture<DevnetFixture>
{
    public const string Name = "devnet";
}
