using System.ComponentModel.DataAnnotations;

namespace Aitbc.Wallet;

/// <summary>The wallet daemon's settings: section <c>Wallet</c>, environment <c>AITBC_WALLET__…</c>, or flags.</summary>
public sealed class WalletOptions
{
    public const string Section = "Wallet";

    /// <summary>The keystore's SQLite file.</summary>
    [Required]
    public string Keystore { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "wallet", "keystore.db");

    /// <summary>The cookie file with the daemon's token; defaults to <c>wallet.cookie</c> beside the keystore.</summary>
    public string? Cookie { get; set; }

    /// <summary>Loopback only: the daemon holds keys. Any other address is refused at start.</summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int Port { get; set; } = 8015;

    /// <summary>The node the daemon reads nonces and balances from and submits to.</summary>
    [Required]
    public string Node { get; set; } = "http://127.0.0.1:8006";

    /// <summary>Argon2id passes and memory (KiB) for new keys.</summary>
    [Range(1, 64)]
    public int KdfPasses { get; set; } = 3;

    [Range(8, 4 * 1024 * 1024)]
    public int KdfMemoryKiB { get; set; } = 256 * 1024;

    /// <summary>The most wallet-scoped API tokens one wallet may hold at once.</summary>
    [Range(1, 10_000)]
    public int MaxTokensPerWallet { get; set; } = 64;

    public const int DefaultMaxRefusalsPerMinute = Signing.WalletSigner.DefaultMaxRefusalsPerMinute;

    /// <summary>
    /// The most policy refusals one unlocked wallet writes to the audit log per minute (a bucket of this size, refilled over a
    /// minute); past it a refused request is answered <c>429 too_many_refusals</c> and writes nothing. Signatures are not limited.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxRefusalsPerMinute { get; set; } = DefaultMaxRefusalsPerMinute;

    public string CookiePath => Cookie ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Keystore))!, "wallet.cookie");
}
