using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Cli.Config;

namespace Aitbc.Cli.Devnet;

/// <summary>One service of the devnet: its executable, its port and its address.</summary>
internal sealed record DevnetService(string Name, string Executable, int Port)
{
    public Uri Url => new($"http://127.0.0.1:{Port}");
}

/// <summary>What <c>devnet up</c> left for the other devnet commands: the services and where they listen.</summary>
internal sealed record DevnetState(IReadOnlyList<DevnetService> Services, string Backend, string? ChainId);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(DevnetState))]
internal sealed partial class DevnetJson : JsonSerializerContext;

/// <summary>
/// <c>~/.aitbc/devnet/</c>: each service's data (<c>node/ wallet/ coordinator/ provider/</c>), its log (<c>logs/NAME.log</c>), its pid
/// file (<c>run/NAME.pid</c>), the devnet wallets' passwords (<c>secrets/</c>, mode 0600) and <c>devnet.json</c>.
/// </summary>
internal sealed class DevnetHome(string root)
{
    public static DevnetHome Default => new(Path.Combine(CliConfig.Home, "devnet"));

    /// <summary>The services in the order they start (and the reverse of the order they stop).</summary>
    public static readonly string[] Order = ["node", "wallet", "coordinator", "provider"];

    public string Root => root;
    public string DataOf(string service) => Path.Combine(root, service);
    public string LogOf(string service) => Path.Combine(root, "logs", service + ".log");
    public string PidOf(string service) => Path.Combine(root, "run", service + ".pid");
    public string SecretOf(string wallet) => Path.Combine(root, "secrets", wallet + ".password");
    public string Keystore => Path.Combine(DataOf("wallet"), "keystore.db");
    public string Cookie => Path.Combine(DataOf("wallet"), "wallet.cookie");
    private string StateFile => Path.Combine(root, "devnet.json");

    public void Create()
    {
        foreach (var d in new[] { "logs", "run", "secrets", "node", "wallet", "coordinator", "provider" })
        {
            var path = Path.Combine(root, d);
            Directory.CreateDirectory(path);
            if (d is "secrets" or "wallet" or "provider" && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
    }

    public DevnetState? ReadState() =>
        File.Exists(StateFile) ? JsonSerializer.Deserialize(File.ReadAllBytes(StateFile), DevnetJson.Default.DevnetState) : null;

    public void WriteState(DevnetState state)
    {
        var temp = StateFile + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(state, DevnetJson.Default.DevnetState));
        File.Move(temp, StateFile, overwrite: true);
    }

    /// <summary>The processes of this devnet still running, by service.</summary>
    public IReadOnlyDictionary<string, ServiceProcess> Running() =>
        Order.Select(s => (s, p: ServiceProcess.Read(PidOf(s)))).Where(x => x.p is not null).ToDictionary(x => x.s, x => x.p!, StringComparer.Ordinal);

    /// <summary>A password for a devnet wallet, made once and kept in a 0600 file.</summary>
    public string SecretFor(string wallet)
    {
        var path = SecretOf(wallet);
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        File.WriteAllText(path, secret);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return secret;
    }
}
