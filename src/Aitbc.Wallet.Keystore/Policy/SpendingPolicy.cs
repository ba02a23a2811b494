using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;

namespace Aitbc.Wallet.Policy;

/// <summary>
/// What a wallet may sign, checked before every signature: a maximum per transaction and per
/// rolling 24 hours (amount plus fee), and the only recipients and escrow providers allowed
/// (null: any). Meant for agents that hold keys: a runaway agent cannot spend more than its owner allowed.
/// </summary>
public sealed record SpendingPolicy(
    Amount? MaxPerTx = null, Amount? MaxPerDay = null,
    IReadOnlyList<Address>? AllowedRecipients = null, IReadOnlyList<Address>? AllowedProviders = null)
{
    public static readonly SpendingPolicy Unlimited = new();

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static SpendingPolicy FromJson(string json) => JsonSerializer.Deserialize<SpendingPolicy>(json, Json) ?? Unlimited;

    /// <summary>What a transaction spends from the wallet for the policy: amount plus fee; settles and refunds spend only their fee.</summary>
    public static Amount Spend(TxBody body, Amount fee) => body switch
    {
        TransferBody t => Sum(t.Amount, fee),
        EscrowLockBody l => Sum(l.Amount, fee),
        _ => fee,
    };

    private static Amount Sum(Amount a, Amount b) => Amount.TryAdd(a, b, out var s) ? s : new Amount(ulong.MaxValue);

    /// <summary>Null when allowed; else the reason. <paramref name="spentToday"/> is what was signed in the last 24 hours.</summary>
    public string? Check(TxBody body, Amount fee, Amount spentToday)
    {
        var spend = Spend(body, fee);
        if (MaxPerTx is { } perTx && spend > perTx)
        {
            return $"spends {spend} (amount plus fee), over the per-transaction limit of {perTx}";
        }
        if (MaxPerDay is { } perDay && (!Amount.TryAdd(spentToday, spend, out var total) || total > perDay))
        {
            return $"would bring the last 24 hours' spending to {Sum(spentToday, spend)}, over the daily limit of {perDay} ({spentToday} spent)";
        }
        switch (body)
        {
            case TransferBody t when AllowedRecipients is { } allowed && !allowed.Contains(t.To):
                return $"recipient {t.To} is not on the wallet's allowed list";
            case EscrowLockBody l when (AllowedProviders ?? AllowedRecipients) is { } providers && !providers.Contains(l.Provider):
                // Without a list of providers, the recipients' list holds: a lock is a payment to its provider.
                return $"provider {l.Provider} is not on the wallet's allowed list";
            default:
                return null;
        }
    }

    /// <summary>The recipients a transfer may pay (null: any).</summary>
    public IReadOnlyList<Address>? EffectiveRecipients => AllowedRecipients;

    /// <summary>The providers an escrow lock may pay (null: any): without a providers' list, the recipients' list, as <see cref="Check"/> applies it.</summary>
    public IReadOnlyList<Address>? EffectiveProviders => AllowedProviders ?? AllowedRecipients;

    /// <summary>
    /// Whether this policy allows nothing that <paramref name="other"/> refuses. The lists compared are the
    /// effective ones, what each policy lets each kind of transaction pay: comparing the raw lists took a
    /// missing providers' list for "any provider", while the recipients' list then limits locks.
    /// </summary>
    public bool IsAtLeastAsStrictAs(SpendingPolicy other)
    {
        static bool Limit(Amount? mine, Amount? theirs) => theirs is null || (mine is { } m && m <= theirs.Value);
        static bool List(IReadOnlyList<Address>? mine, IReadOnlyList<Address>? theirs) => theirs is null || (mine is not null && mine.All(theirs.Contains));
        return Limit(MaxPerTx, other.MaxPerTx) && Limit(MaxPerDay, other.MaxPerDay) &&
            List(EffectiveRecipients, other.EffectiveRecipients) && List(EffectiveProviders, other.EffectiveProviders);
    }

    /// <summary>
    /// A MAC over the policy keyed from the wallet's seed: a policy edited in the keystore file by
    /// anything but the daemon (with the wallet unlocked) is detected. From keystore schema 2 it also
    /// covers the first audit entry whose MAC the wallet vouches for (<paramref name="auditFrom"/>), so that
    /// boundary cannot be moved without the key; null (a row of schema 1 not yet opened) keeps the v1 form.
    /// From schema 3 it covers the policy's version (<paramref name="version"/>, raised at every change and
    /// recorded in the audit log), so an older row written back no longer matches the log; null (a row of
    /// schema 2 whose policy has not changed since) keeps the v2 form.
    /// </summary>
    public string Mac(ReadOnlySpan<byte> policyKey, Address address, long? auditFrom, long? version = null)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var text = (auditFrom, version) switch
        {
            ({ } from, { } v) => $"AITBC/policy/v3\n{address}\n{from.ToString(inv)}\n{v.ToString(inv)}\n{ToJson()}",
            ({ } from, null) => $"AITBC/policy/v2\n{address}\n{from.ToString(inv)}\n{ToJson()}",
            _ => $"AITBC/policy/v1\n{address}\n{ToJson()}",
        };
        return Convert.ToHexStringLower(HMACSHA256.HashData(policyKey, Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The hash an audit entry of type <c>policy</c> names the policy by: SHA-256 of its JSON as stored.</summary>
    public Hash256 Hash() => Hash256.Compute(Encoding.UTF8.GetBytes(ToJson()));

    public static byte[] KeyFromSeed(ReadOnlySpan<byte> seed) => DeriveKey("AITBC/policy-key/v1\n"u8, seed);

    /// <summary>The key of the wallet's audit MACs, derived from the seed like the policy's (another label, so another key).</summary>
    public static byte[] AuditKeyFromSeed(ReadOnlySpan<byte> seed) => DeriveKey("AITBC/audit-key/v1\n"u8, seed);

    private static byte[] DeriveKey(ReadOnlySpan<byte> label, ReadOnlySpan<byte> seed)
    {
        var input = new byte[label.Length + seed.Length];
        label.CopyTo(input);
        seed.CopyTo(input.AsSpan(label.Length));
        var key = SHA256.HashData(input);
        CryptographicOperations.ZeroMemory(input);
        return key;
    }
}
