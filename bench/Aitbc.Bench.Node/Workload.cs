using System.Security.Cryptography;
using Aitbc.Core;
using Aitbc.Node;

namespace Aitbc.Bench.Node;

/// <summary>
/// The funded senders and their pre-signed transfers. Transfer number <c>i</c> is sent by account
/// <c>i % senders</c> with nonce <c>i / senders</c>, so submitting in index order keeps every sender's
/// nonces in order and spreads consecutive transfers over different senders. Only this process holds
/// the senders' keys, so a committed transaction from sender s with nonce n is exactly transfer
/// <c>n * senders + s</c>: the commit watcher needs no hashing to recognise it.
/// </summary>
internal sealed class Workload : IDisposable
{
    public const string ChainId = "ait-bench";
    public static readonly Amount Fee = new(1_000);
    public static readonly Amount TransferAmount = new(1_000);
    public static readonly Amount Funding = Amount.FromAit(1_000);

    // Seeds, not keys: libsodium guards each live secret key with its own memory mappings, and
    // 100,000 of them at once exceed Linux's default vm.max_map_count. A key lives while it signs.
    private readonly byte[][] _seeds;
    private readonly Address[] _addresses;
    private readonly Dictionary<string, int> _senderIndex;
    private byte[][] _json = [];

    private Workload(byte[][] seeds, Address[] addresses)
    {
        _seeds = seeds;
        _addresses = addresses;
        _senderIndex = new Dictionary<string, int>(addresses.Length, StringComparer.Ordinal);
        for (var i = 0; i < addresses.Length; i++)
        {
            _senderIndex.Add(addresses[i].ToString(), i);
        }
    }

    public int Senders => _seeds.Length;

    /// <summary>How many transfers are signed (indices 0 to Signed - 1).</summary>
    public int Signed { get; private set; }

    public static Workload Create(int senders)
    {
        var seeds = new byte[senders][];
        var addresses = new Address[senders];
        Parallel.For(0, senders, i =>
        {
            seeds[i] = RandomNumberGenerator.GetBytes(32);
            using var key = Ed25519Key.FromSeed(seeds[i]);
            addresses[i] = key.Address;
        });
        return new Workload(seeds, addresses);
    }

    /// <summary>Writes the genesis (every sender funded) and the validator key into <paramref name="dir"/>.</summary>
    public (string Genesis, string ValidatorKey) WriteGenesis(string dir)
    {
        var keyPath = Path.Combine(dir, "validator.key");
        using var validator = KeyFile.Create(keyPath);
        var genesis = new Genesis(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            [new GenesisValidator(validator.Address, 1, "bench-validator")],
            [.. _addresses.Select(a => new GenesisAllocation(a, Funding))],
            new ChainParameters());
        genesis.Validate();
        var path = Path.Combine(dir, "genesis.json");
        File.WriteAllBytes(path, genesis.ToJsonBytes());
        return (path, keyPath);
    }

    public ReadOnlySpan<byte> Json(int index) => _json[index];

    public ReadOnlyMemory<byte> JsonMemory(int index) => _json[index];

    /// <summary>Signs transfers up to index <paramref name="count"/> (exclusive), in parallel on every core.</summary>
    public void SignUpTo(int count)
    {
        if (count <= Signed)
        {
            return;
        }
        if (_json.Length < count)
        {
            Array.Resize(ref _json, count);
        }
        var from = Signed;
        var senders = Senders;
        // By sender, so that each key is opened once per call.
        Parallel.For(0, senders, sender =>
        {
            var firstNonce = (from - sender + senders - 1) / senders;
            if ((firstNonce * (long)senders) + sender >= count)
            {
                return;
            }
            using var key = Ed25519Key.FromSeed(_seeds[sender]);
            for (long nonce = firstNonce; (nonce * senders) + sender < count; nonce++)
            {
                // Any account but the sender, varied with the nonce.
                var to = (sender + 1 + (int)(((nonce * 7_919) + sender) % (senders - 1))) % senders;
                var tx = Transaction.Sign(key, ChainId, nonce, Fee, new TransferBody(_addresses[to], TransferAmount));
                _json[(nonce * senders) + sender] = tx.ToJsonBytes();
            }
        });
        Signed = count;
    }

    /// <summary>The transfer index of a committed transaction, or -1 when it is not one of ours.</summary>
    public long IndexOf(ReadOnlySpan<char> from, long nonce)
    {
        var lookup = _senderIndex.GetAlternateLookup<ReadOnlySpan<char>>();
        return lookup.TryGetValue(from, out var sender) && nonce >= 0 ? (nonce * Senders) + sender : -1;
    }

    /// <summary>Up to <paramref name="count"/> signed transfers as (signer, signing bytes, signature), for the verification measurement.</summary>
    public IReadOnlyList<(Address Signer, byte[] Message, byte[] Signature)> SampleMessages(int count)
    {
        var result = new List<(Address, byte[], byte[])>(count);
        for (var i = 0; i < Math.Min(count, Signed); i++)
        {
            if (!Transaction.TryParse(_json[i], out var tx, out var error))
            {
                throw new InvalidOperationException($"a pre-signed transfer does not parse: {error}");
            }
            result.Add((tx.From, tx.SigningBytes(), tx.Signature));
        }
        return result;
    }

    public void Dispose()
    {
        foreach (var seed in _seeds)
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }
}
