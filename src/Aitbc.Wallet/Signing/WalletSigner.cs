using System.Collections.Concurrent;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Signing;

/// <summary>An expected refusal of the signer, with a stable code.</summary>
public sealed record SignError(string Code, string Message, Problem? NodeProblem = null);

/// <summary>What became of a send: the signed transaction and what the node said.</summary>
public sealed record SendOutcome(Transaction Tx, SubmitResult Submitted);

/// <summary>
/// Unlocked wallets and everything that signs with them. Every signature is checked against the
/// wallet's policy first and written to the audit log (signed or refused) before it leaves.
/// </summary>
public sealed class WalletSigner(WalletKeystore keystore, AuditLog audit, NodeClient node, string chainId, TimeProvider time) : IDisposable
{
    public static readonly TimeSpan DefaultUnlock = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxUnlock = TimeSpan.FromDays(1);
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    public string ChainId => chainId;

    private sealed class Session(OpenedWallet wallet, DateTimeOffset expires) : IDisposable
    {
        public OpenedWallet Wallet { get; } = wallet;
        public DateTimeOffset Expires { get; } = expires;
        public SpendingPolicy Policy { get; set; } = wallet.Record.Policy;
        public Lock Window { get; } = new();
        public Queue<(long Time, Amount Amount)> Spent { get; } = new();
        public SemaphoreSlim SendGate { get; } = new(1, 1);
        public long NextNonce { get; set; } = -1;

        public void Dispose()
        {
            Wallet.Dispose();
            SendGate.Dispose();
        }
    }

    /// <summary>Opens a wallet for <paramref name="duration"/>; its key is then held in memory only, until the time runs out or lock.</summary>
    public (DateTimeOffset? Expires, KeystoreError? Error) Unlock(string name, string password, TimeSpan? duration)
    {
        var span = duration ?? DefaultUnlock;
        if (span <= TimeSpan.Zero || span > MaxUnlock)
        {
            return (null, new KeystoreError("invalid_duration", $"an unlock lasts from 1 second to {MaxUnlock.TotalHours} hours"));
        }
        var (wallet, error) = keystore.Open(name, password);
        if (wallet is null)
        {
            return (null, error);
        }
        var now = time.GetUtcNow();
        var session = new Session(wallet, now + span);
        foreach (var entry in audit.SignedSince(wallet.Record.Address, (now - Day).ToUnixTimeMilliseconds()))
        {
            session.Spent.Enqueue(entry);
        }
        _sessions.AddOrUpdate(name, session, (_, old) =>
        {
            old.Dispose();
            return session;
        });
        return (session.Expires, null);
    }

    public bool Lock(string name)
    {
        if (_sessions.TryRemove(name, out var s))
        {
            s.Dispose();
            return true;
        }
        return false;
    }

    /// <summary>When the wallet's unlock runs out, or null when it is locked.</summary>
    public DateTimeOffset? UnlockedUntil(string name) => Active(name)?.Expires;

    private Session? Active(string name)
    {
        if (!_sessions.TryGetValue(name, out var s))
        {
            return null;
        }
        if (time.GetUtcNow() < s.Expires)
        {
            return s;
        }
        if (_sessions.TryRemove(new KeyValuePair<string, Session>(name, s)))
        {
            s.Dispose();
        }
        return null;
    }

    public (WalletRecord? Wallet, SignError? Error) SetPolicy(string name, SpendingPolicy policy)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        var record = keystore.SetPolicy(s.Wallet, policy);
        s.Policy = policy;
        return (record, null);
    }

    /// <summary>Signs a transaction with the given nonce and fee, if the policy allows it.</summary>
    public async Task<(Transaction? Tx, SignError? Error)> SignAsync(string name, TxBody body, long nonce, Amount fee)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        if (nonce is < 0 or > CanonicalJson.MaxSafeInteger)
        {
            return (null, new SignError("invalid_nonce", "a nonce is an integer from 0 to 2^53-1"));
        }
        var spend = SpendingPolicy.Spend(body, fee);
        string? refusal;
        lock (s.Window)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var cutoff = now - (long)Day.TotalMilliseconds;
            while (s.Spent.TryPeek(out var oldest) && oldest.Time <= cutoff)
            {
                s.Spent.Dequeue();
            }
            var today = s.Spent.Aggregate(Amount.Zero, (sum, e) => Amount.TryAdd(sum, e.Amount, out var t) ? t : new Amount(ulong.MaxValue));
            refusal = s.Policy.Check(body, fee, today);
            if (refusal is null)
            {
                // Reserved now, so concurrent signers cannot together pass the daily limit.
                s.Spent.Enqueue((now, spend));
            }
        }
        var address = s.Wallet.Record.Address;
        if (refusal is not null)
        {
            // Refused before any signature exists; the entry names the transaction by the id it would have had.
            await audit.AppendAsync(name, address, Transaction.ComputeId(chainId, address, nonce, fee, body), body.Type, spend, AuditEntry.Refused, refusal);
            return (null, new SignError("policy_refused", $"wallet '{name}' may not sign this: {refusal}"));
        }
        var tx = Transaction.Sign(s.Wallet.Key, chainId, nonce, fee, body);
        await audit.AppendAsync(name, address, tx.Id, tx.Type, spend, AuditEntry.Signed, null);
        return (tx, null);
    }

    /// <summary>
    /// Builds, signs and submits a transaction with the wallet's next nonce, then (optionally) waits
    /// for its block. Sends of one wallet are numbered one at a time, so parallel sends get
    /// consecutive nonces without gaps; the wait for commit happens outside that gate.
    /// </summary>
    public async Task<(SendOutcome? Outcome, SignError? Error)> SendAsync(string name, TxBody body, Amount? fee, bool wait, CancellationToken ct)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        var status = await node.StatusAsync(ct);
        var actualFee = fee ?? status.MinFee;
        Transaction tx;
        SubmitResult submitted;
        await s.SendGate.WaitAsync(ct);
        try
        {
            if (s.NextNonce < 0)
            {
                s.NextNonce = (await node.AccountAsync(s.Wallet.Record.Address, ct)).NextNonce;
            }
            var (signed, error) = await SignAsync(name, body, s.NextNonce, actualFee);
            if (signed is null)
            {
                return (null, error);
            }
            tx = signed;
            submitted = await node.SubmitAsync(tx, waitForCommit: false, ct);
            if (submitted.Accepted)
            {
                s.NextNonce++;
            }
            else
            {
                s.NextNonce = -1; // Learn the nonce afresh: the key may be used elsewhere too.
                return (null, new SignError("node_refused", $"the node refused the transaction: {submitted.Problem}", submitted.Problem));
            }
        }
        finally
        {
            s.SendGate.Release();
        }
        if (wait)
        {
            submitted = await node.WaitAsync(tx.Id, ct);
            if (submitted.Problem is not null || submitted.Status == "rejected")
            {
                return (null, new SignError("tx_rejected", $"the transaction was refused when its block was built: {submitted.Problem}", submitted.Problem));
            }
        }
        return (new SendOutcome(tx, submitted), null);
    }

    private static SignError Locked(string name) =>
        new("locked", $"wallet '{name}' is locked (or does not exist): unlock it first");

    public void Dispose()
    {
        foreach (var name in _sessions.Keys)
        {
            Lock(name);
        }
    }
}
