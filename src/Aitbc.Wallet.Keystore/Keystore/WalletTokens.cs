using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Aitbc.Core;

namespace Aitbc.Wallet.Keystore;

/// <summary>A wallet-scoped API token as listed: never the token itself, which is shown once at creation.</summary>
public sealed record WalletToken(string Id, Address Address, string? Label, DateTimeOffset CreatedAt);

/// <summary>
/// Per-wallet API tokens (<c>aitbc_wt_</c> + 64 hex): created with the wallet's password, stored in the keystore
/// as their SHA-256 only (a 256-bit random secret needs no slow hash), held in memory by that hash so that a
/// request costs one SHA-256 and one lookup. Scoped to the wallet's address, so a rename keeps them and a
/// delete revokes them (<see cref="WalletKeystore.Delete"/> deletes their rows).
/// </summary>
public sealed class WalletTokens
{
    public const string Prefix = "aitbc_wt_";
    private readonly WalletKeystore _keystore;
    private readonly int _maxPerWallet;
    private readonly ConcurrentDictionary<string, WalletToken> _byHash = new(StringComparer.Ordinal);
    private readonly Lock _write = new();

    public WalletTokens(WalletKeystore keystore, int maxPerWallet)
    {
        _keystore = keystore;
        _maxPerWallet = maxPerWallet;
        using var c = keystore.Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, address, hash, label, created_at FROM tokens";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (!Address.TryParse(r.GetString(1), out var address, out _))
            {
                throw new InvalidDataException($"The keystore's token '{r.GetString(0)}' names an invalid address: the file was altered.");
            }
            _byHash[r.GetString(2)] = new WalletToken(r.GetString(0), address, r.IsDBNull(3) ? null : r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)));
        }
    }

    /// <summary>The token's record, or null when it is not a live wallet token.</summary>
    public WalletToken? Find(ReadOnlySpan<char> token) =>
        token.StartsWith(Prefix, StringComparison.Ordinal) && token.Length == Prefix.Length + 64 && _byHash.TryGetValue(Hash(token), out var t) ? t : null;

    /// <summary>A new token for <paramref name="address"/>, or null when the wallet holds the most it may.</summary>
    public (WalletToken Record, string Token)? Create(Address address, string? label)
    {
        var token = Prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var record = new WalletToken(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), address, label,
            DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var hash = Hash(token);
        lock (_write)
        {
            if (_byHash.Values.Count(t => t.Address == address) >= _maxPerWallet)
            {
                return null;
            }
            using var c = _keystore.Connect();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO tokens (id, address, hash, label, created_at) VALUES ($id, $address, $hash, $label, $created)";
            cmd.Parameters.AddWithValue("$id", record.Id);
            cmd.Parameters.AddWithValue("$address", address.ToString());
            cmd.Parameters.AddWithValue("$hash", hash);
            cmd.Parameters.AddWithValue("$label", (object?)label ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$created", record.CreatedAt.ToUnixTimeMilliseconds());
            cmd.ExecuteNonQuery();
            _byHash[hash] = record;
        }
        return (record, token);
    }

    public IReadOnlyList<WalletToken> List(Address address) =>
        [.. _byHash.Values.Where(t => t.Address == address).OrderBy(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal)];

    /// <summary>Revokes one token of <paramref name="address"/>; false when it has none by that id.</summary>
    public bool Revoke(Address address, string id)
    {
        lock (_write)
        {
            using var c = _keystore.Connect();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DELETE FROM tokens WHERE address = $address AND id = $id";
            cmd.Parameters.AddWithValue("$address", address.ToString());
            cmd.Parameters.AddWithValue("$id", id);
            var removed = cmd.ExecuteNonQuery() > 0;
            Forget(t => t.Address == address && t.Id == id);
            return removed;
        }
    }

    /// <summary>Forgets every token of <paramref name="address"/>, whose wallet was deleted (the keystore deleted their rows with it).</summary>
    public void ForgetWallet(Address address)
    {
        lock (_write)
        {
            Forget(t => t.Address == address);
        }
    }

    private void Forget(Func<WalletToken, bool> which)
    {
        foreach (var (hash, t) in _byHash)
        {
            if (which(t))
            {
                _byHash.TryRemove(hash, out _);
            }
        }
    }

    private static string Hash(ReadOnlySpan<char> token)
    {
        Span<byte> bytes = stackalloc byte[Prefix.Length + 64];
        var n = Encoding.ASCII.GetBytes(token, bytes);
        return Convert.ToHexStringLower(SHA256.HashData(bytes[..n]));
    }
}
