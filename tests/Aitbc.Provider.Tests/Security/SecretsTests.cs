using System.Diagnostics;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Security;

/// <summary>
/// Attack 16, the provider's part (docs/security.md): its secrets come from files or the environment, never
/// from a flag (where every local user reads them in the process list), and what it creates is 0700/0600.
/// </summary>
public sealed class SecretsTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    [Fact]
    public async Task Attack16_The_key_password_is_refused_as_a_flag_taken_from_a_file_and_the_data_folder_is_private()
    {
        using var dir = new TempDir();

        // A password on the command line is not an option at all: the daemon refuses to start.
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[ProviderProcess.Executable, "--password", ProviderProcess.Password, "--backend", "dev-echo"])
        {
            info.ArgumentList.Add(a);
        }
        using (var refused = Process.Start(info)!)
        {
            var stderr = await refused.StandardError.ReadToEndAsync();
            await refused.WaitForExitAsync();
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("unknown option '--password'", stderr, StringComparison.Ordinal);
        }

        // From a file (and nothing in the environment), it starts; the folders it makes for its data are its own.
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:attack16");
        await using var provider = await ProviderProcess.StartAsync(dir.Path, Market, standIn, new Dictionary<string, string>(), passwordFile: dir.Sub("password"));

        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Assert.Equal(Private, File.GetUnixFileMode(dir.Sub("data")));
            Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(dir.Sub("data"), "deliveries")));
            Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(dir.Sub("data"), "deliveries", provider.Address.ToString())));
        }
        Assert.Equal(Amount.Zero, await Market.Chain.BalanceAsync(provider.Address));
    }
}
