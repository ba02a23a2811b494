using System.ComponentModel.DataAnnotations;

namespace Aitbc.Provider;

/// <summary>The provider daemon's settings: section <c>Provider</c>, environment <c>AITBC_PROVIDER__…</c>, or flags.</summary>
public sealed class ProviderOptions
{
    public const string Section = "Provider";

    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int Port { get; set; } = 8008;

    [Required]
    public string Coordinator { get; set; } = "http://127.0.0.1:8000";

    [Required]
    public string Node { get; set; } = "http://127.0.0.1:8006";

    /// <summary>ollama (default), openai (any OpenAI-compatible server) or dev-echo (the built-in development model).</summary>
    [Required]
    [RegularExpression("^(ollama|openai|dev-echo)$")]
    public string Backend { get; set; } = "ollama";

    public string BackendUrl { get; set; } = "http://127.0.0.1:11434";

    /// <summary>The backend's API key (an OpenAI-compatible server's bearer token); or from <see cref="BackendApiKeyFile"/>.</summary>
    public string? BackendApiKey { get; set; }

    /// <summary>A file holding the backend's API key, so that the key need not be in a flag or the configuration.</summary>
    public string? BackendApiKeyFile { get; set; }

    /// <summary>The keystore holding the provider's key, its wallet name, and a file with its password.</summary>
    public string Keystore { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "wallet", "keystore.db");

    public string Wallet { get; set; } = "provider";

    public string? PasswordFile { get; set; }

    /// <summary>
    /// The wallet daemon to sign through instead of holding the key (e.g. http://127.0.0.1:8015), with
    /// its cookie file; the wallet named by <see cref="Wallet"/> must be unlocked there.
    /// </summary>
    public string? WalletDaemon { get; set; }

    public string? WalletCookie { get; set; }

    /// <summary>
    /// A file holding a wallet-scoped API token of the wallet daemon (or set <c>AITBC_PROVIDER_WALLET_TOKEN</c>),
    /// used instead of the daemon's cookie.
    /// </summary>
    public string? WalletTokenFile { get; set; }

    /// <summary>The provider's own data: results kept until the coordinator acknowledges them (<c>deliveries/</c>). Created 0700.</summary>
    [Required]
    public string DataDir { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "provider");

    /// <summary>The longest wait between two tries to deliver a result (the wait doubles from 1 s up to this).</summary>
    [Range(1, 3_600)]
    public int DeliveryRetryMaxSeconds { get; set; } = 60;

    /// <summary>Price per million input and output tokens, in base units, for every model served.</summary>
    [Range(0, long.MaxValue)]
    public long PriceIn { get; set; } = 100_000_000;

    [Range(0, long.MaxValue)]
    public long PriceOut { get; set; } = 300_000_000;

    /// <summary>
    /// The most output a job may produce, in UTF-8 bytes; the work stops there and the job fails (refunded) before any
    /// receipt is signed. At most 1 MiB, the largest output the coordinator accepts in a result.
    /// </summary>
    [Range(1, MaxOutputLimit)]
    public int MaxOutputBytes { get; set; } = MaxOutputLimit;

    /// <summary>The coordinator's limit on a result's output (1 MiB).</summary>
    public const int MaxOutputLimit = 1024 * 1024;

    /// <summary>Direct-path requests (<c>POST /v1/jobs</c>, <c>GET /v1/jobs/{id}</c>) per client network per second, and how many at once.</summary>
    [Range(0.01, 100_000)]
    public double DirectRequestsPerIpPerSecond { get; set; } = 5;

    [Range(1, 1_000_000)]
    public int DirectBurstPerIp { get; set; } = 20;

    [Range(1, 1024)]
    public int Concurrency { get; set; } = 2;

    public string Region { get; set; } = "local";

    public string Gpu { get; set; } = "unknown";

    /// <summary>The longest a job may run.</summary>
    [Range(1, 86_400)]
    public int JobTimeoutSeconds { get; set; } = 300;

    /// <summary>Time kept in hand before an escrow's expiry, to settle it: a job whose escrow leaves less than this plus a minute of work is refused.</summary>
    [Range(1, 3_600)]
    public int SettleMarginSeconds { get; set; } = 30;

    [Range(1, 3_600)]
    public int HeartbeatSeconds { get; set; } = 5;

    /// <summary>On shutdown, how long running jobs have to finish before they are stopped and refunded.</summary>
    [Range(0, 3_600)]
    public int GraceSeconds { get; set; } = 30;

    /// <summary>The least work time an escrow must leave after the settle margin.</summary>
    [Range(1, 3_600)]
    public int MinRunSeconds { get; set; } = 10;
}
