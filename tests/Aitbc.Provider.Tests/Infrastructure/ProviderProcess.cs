using System.Diagnostics;
using System.Text;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// The real provider executable (<c>aitbc-ai-serve</c>) as its own process, its key in a keystore
/// (fast KDF) unlocked through <c>AITBC_PROVIDER_PASSWORD</c> (or <c>--password-file</c>), its data in
/// <c>DIR/data</c>, settings by flags and <c>AITBC_PROVIDER__…</c>.
/// </summary>
public sealed class ProviderProcess : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ProviderProcess(Process process, Address address)
    {
        _process = process;
        Address = address;
    }

    public Address Address { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Path of the provider executable built beside this test assembly's configuration.</summary>
    public static string Executable => Aitbc.Testing.BuiltExecutable.Of("Aitbc.Provider.Host", "aitbc-ai-serve");

    /// <summary>
    /// Creates a keystore with a new provider key in <paramref name="dir"/>, starts the daemon, and returns once it has registered.
    /// With <paramref name="passwordFile"/>, the password is only in that file (written 0600), not in the environment.
    /// </summary>
    public static async Task<ProviderProcess> StartAsync(string dir, Market market, OllamaStandIn standIn, IReadOnlyDictionary<string, string> settings,
        string? passwordFile = null)
    {
        var keystore = Path.Combine(dir, "keystore.db");
        var (wallet, _, error) = new WalletKeystore(keystore, KdfCost.Fast).Create("provider", Password);
        Assert.True(wallet is not null, error?.Message);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[Executable, "--coordinator", market.Coordinator.Uri.ToString(), "--node", market.Chain.RpcUri.ToString(),
            "--backend", "ollama", "--backend-url", standIn.Uri.ToString(), "--keystore", keystore, "--wallet", "provider", "--port", "0",
            "--data-dir", Path.Combine(dir, "data")])
        {
            info.ArgumentList.Add(a);
        }
        if (passwordFile is null)
        {
            info.Environment["AITBC_PROVIDER_PASSWORD"] = Password;
        }
        else
        {
            await File.WriteAllTextAsync(passwordFile, Password + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            info.ArgumentList.Add("--password-file");
            info.ArgumentList.Add(passwordFile);
            info.Environment.Remove("AITBC_PROVIDER_PASSWORD");
        }
        foreach (var (key, value) in settings)
        {
            info.Environment[$"AITBC_PROVIDER__{key.ToUpperInvariant()}"] = value;
        }
        var process = Process.Start(info)!;
        var p = new ProviderProcess(process, wallet.Address);
        process.OutputDataReceived += (_, e) => p.Append(e.Data);
        process.ErrorDataReceived += (_, e) => p.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await p._started.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return p;
        }
        catch (TimeoutException)
        {
            await p.DisposeAsync();
            throw new TimeoutException($"The provider did not start:\n{p.Output}");
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        if (line.StartsWith($"Provider {Address} serving", StringComparison.Ordinal))
        {
            _started.TrySetResult();
        }
    }

    /// <summary>SIGKILL: no shutdown, no refund, nothing flushed; what it had in flight is simply gone.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        _process.Dispose();
    }
}
