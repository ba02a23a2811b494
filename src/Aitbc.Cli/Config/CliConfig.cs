using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Cli.Abstractions;

namespace Aitbc.Cli.Config;

/// <summary>One named set of endpoints and a default wallet.</summary>
internal sealed class Profile
{
    public string? Node { get; set; }
    public string? Coordinator { get; set; }
    public string? WalletDaemon { get; set; }
    public string? DefaultWallet { get; set; }

    /// <summary>The keystore the wallet commands use when no wallet daemon answers (the daemon's cookie is beside it).</summary>
    public string? Keystore { get; set; }

    /// <summary>The keys <c>aitbc config set</c> knows, with their values.</summary>
    public static readonly string[] Keys = ["node", "coordinator", "wallet-daemon", "default-wallet", "keystore"];

    public string? Get(string key) => key switch
    {
        "node" => Node,
        "coordinator" => Coordinator,
        "wallet-daemon" => WalletDaemon,
        "default-wallet" => DefaultWallet,
        "keystore" => Keystore,
        _ => throw new CliException(ExitCodes.Usage, $"unknown setting '{key}'; one of {string.Join(", ", Keys)}"),
    };

    public void Set(string key, string? value)
    {
        if (key is "node" or "coordinator" or "wallet-daemon" && value is not null && !CliConfig.IsHttpUrl(value))
        {
            throw new CliException(ExitCodes.Usage, $"'{value}' is not an http(s) URL");
        }
        switch (key)
        {
            case "node": Node = value; break;
            case "coordinator": Coordinator = value; break;
            case "wallet-daemon": WalletDaemon = value; break;
            case "default-wallet": DefaultWallet = value; break;
            case "keystore": Keystore = value is null ? null : Path.GetFullPath(value); break;
            default: throw new CliException(ExitCodes.Usage, $"unknown setting '{key}'; one of {string.Join(", ", Keys)}");
        }
    }
}

/// <summary>
/// <c>~/.aitbc/config.json</c>: named profiles and the current one. The endpoints a command uses come from the
/// profile, then <c>AITBC_*</c> environment variables, then flags, each overriding the one before.
/// </summary>
internal sealed class CliConfig
{
    public const string DefaultNode = "http://127.0.0.1:8006";
    public const string DefaultCoordinator = "http://127.0.0.1:8000";
    public const string DefaultWalletDaemon = "http://127.0.0.1:8015";

    public string Current { get; set; } = "default";

    public Dictionary<string, Profile> Profiles { get; set; } = new(StringComparer.Ordinal) { ["default"] = new() };

    /// <summary><c>$AITBC_HOME</c>, else <c>~/.aitbc</c>.</summary>
    public static string Home =>
        Environment.GetEnvironmentVariable("AITBC_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc");

    public static string FilePath => Path.Combine(Home, "config.json");

    public static CliConfig Load()
    {
        if (!File.Exists(FilePath))
        {
            return new CliConfig();
        }
        try
        {
            var config = JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), CliJson.Default.CliConfig) ?? new CliConfig();
            config.Profiles = new Dictionary<string, Profile>(config.Profiles, StringComparer.Ordinal);
            return config;
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Failed, $"{FilePath} is not a valid configuration: {e.Message}");
        }
    }

    /// <summary>Writes the file whole (a temporary file renamed over it): a crash leaves the old or the new one.</summary>
    public void Save()
    {
        Directory.CreateDirectory(Home);
        var temp = FilePath + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(this, CliJson.Default.CliConfig));
        File.Move(temp, FilePath, overwrite: true);
    }

    public Profile Profile(string name) =>
        Profiles.TryGetValue(name, out var p) ? p : throw new CliException(ExitCodes.NotFound, $"no profile '{name}' in {FilePath}; `aitbc config show` lists them");

    /// <summary>The endpoints for a command: the profile (<c>--profile</c>, <c>AITBC_PROFILE</c> or the current one), then the environment, then flags.</summary>
    public CliEndpoints Resolve(string? profileFlag, string? nodeFlag, string? coordinatorFlag, string? walletDaemonFlag)
    {
        var name = profileFlag ?? Env("AITBC_PROFILE") ?? Current;
        var p = Profiles.TryGetValue(name, out var found)
            ? found
            : profileFlag is null && Env("AITBC_PROFILE") is null && name == "default"
                ? new Profile()
                : throw new CliException(ExitCodes.NotFound, $"no profile '{name}' in {FilePath}; `aitbc config show` lists them");
        return new CliEndpoints(
            Url(nodeFlag ?? Env("AITBC_NODE") ?? p.Node ?? DefaultNode, "node"),
            Url(coordinatorFlag ?? Env("AITBC_COORDINATOR") ?? p.Coordinator ?? DefaultCoordinator, "coordinator"),
            Url(walletDaemonFlag ?? Env("AITBC_WALLET_DAEMON") ?? p.WalletDaemon ?? DefaultWalletDaemon, "wallet daemon"),
            Env("AITBC_WALLET") ?? p.DefaultWallet);
    }

    public static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps);

    private static Uri Url(string text, string what) =>
        IsHttpUrl(text) ? new Uri(text) : throw new CliException(ExitCodes.Usage, $"the {what} address '{text}' is not an http(s) URL");

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CliConfig))]
internal sealed partial class CliJson : JsonSerializerContext;
