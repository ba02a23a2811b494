using Aitbc.Core;

namespace Aitbc.Node.Chain;

/// <summary>
/// The state machine: applies one transaction to a block's state, or refuses it with a reason
/// and changes nothing. Its rules are those of DESIGN.md, section Transactions.
/// </summary>
internal static class Executor
{
    /// <summary>Checks that need no state: chain id, fee floor, amounts. The signature is checked by the caller.</summary>
    public static Refusal? CheckStateless(Transaction tx, string chainId, ChainParameters p)
    {
        if (tx.ChainId != chainId)
        {
            return new(RefusalCode.WrongChain, $"wrong chain id '{tx.ChainId}' (this chain is '{chainId}')");
        }
        if (tx.Fee < p.MinFee)
        {
            return new(RefusalCode.FeeTooLow, $"fee {tx.Fee} is below the minimum {p.MinFee}");
        }
        return tx.Body switch
        {
            TransferBody { Amount.IsZero: true } => new Refusal(RefusalCode.InvalidAmount, "transfer amount must be positive"),
            EscrowLockBody { Amount.IsZero: true } => new Refusal(RefusalCode.InvalidAmount, "escrow amount must be positive"),
            _ => null,
        };
    }

    /// <summary>Applies <paramref name="tx"/> at a block of time <paramref name="blockTime"/>; null on success, else the refusal.</summary>
    public static Refusal? Apply(BlockState state, Transaction tx, long height, long blockTime, Address proposer, string chainId, ChainParameters p)
    {
        var stateless = CheckStateless(tx, chainId, p);
        if (stateless is not null)
        {
            return stateless;
        }
        var signer = state.Account(tx.From);
        if (tx.Nonce != signer.Nonce)
        {
            return tx.Nonce < signer.Nonce
                ? new(RefusalCode.NonceUsed, $"nonce {tx.Nonce} already used (next is {signer.Nonce})")
                : new(RefusalCode.NonceTooFar, $"nonce {tx.Nonce} is ahead of the account's next nonce {signer.Nonce}");
        }
        var scratch = new Scratch(state);
        var refused = tx.Body switch
        {
            TransferBody t => Transfer(scratch, tx, t),
            EscrowLockBody l => Lock(scratch, tx, l, height, blockTime),
            EscrowSettleBody s => Settle(scratch, tx, s, height, blockTime),
            EscrowRefundBody r => Refund(scratch, tx, r, height, blockTime),
            _ => new Refusal(RefusalCode.InvalidTransaction, $"unknown transaction type '{tx.Type}'"),
        };
        if (refused is not null)
        {
            return refused;
        }
        // The fee is charged after any escrow payout, so a provider with an empty account can settle.
        var payer = scratch.Account(tx.From);
        if (!Amount.TrySubtract(payer.Balance, tx.Fee, out var afterFee))
        {
            return new(RefusalCode.InsufficientBalance, $"balance {payer.Balance} cannot cover the fee {tx.Fee}");
        }
        scratch.Set(tx.From, new AccountState(afterFee, payer.Nonce + 1));
        if (!scratch.Credit(proposer, tx.Fee))
        {
            return new(RefusalCode.InvalidAmount, "the proposer's balance would overflow");
        }
        scratch.CommitTo(state);
        return null;
    }

    private static Refusal? Transfer(Scratch s, Transaction tx, TransferBody t)
    {
        if (!Amount.TryAdd(t.Amount, tx.Fee, out var total))
        {
            return new(RefusalCode.InvalidAmount, "amount plus fee overflows");
        }
        var sender = s.Account(tx.From);
        if (sender.Balance < total)
        {
            return new(RefusalCode.InsufficientBalance, $"insufficient balance: {sender.Balance} available, {total} needed");
        }
        s.Set(tx.From, sender with { Balance = new Amount(sender.Balance.Units - t.Amount.Units) });
        return s.Credit(t.To, t.Amount) ? null : new Refusal(RefusalCode.InvalidAmount, "the recipient's balance would overflow");
    }

    private static Refusal? Lock(Scratch s, Transaction tx, EscrowLockBody l, long height, long blockTime)
    {
        if (s.Escrow(l.JobId) is not null)
        {
            return new(RefusalCode.EscrowState, $"an escrow for job '{l.JobId}' already exists");
        }
        if (l.ExpiresAt <= blockTime)
        {
            return new(RefusalCode.EscrowState, $"expiresAt {l.ExpiresAt} is not after the block time {blockTime}");
        }
        if (!Amount.TryAdd(l.Amount, tx.Fee, out var total))
        {
            return new(RefusalCode.InvalidAmount, "amount plus fee overflows");
        }
        var sender = s.Account(tx.From);
        if (sender.Balance < total)
        {
            return new(RefusalCode.InsufficientBalance, $"insufficient balance: {sender.Balance} available, {total} needed");
        }
        s.Set(tx.From, sender with { Balance = new Amount(sender.Balance.Units - l.Amount.Units) });
        s.Set(new EscrowState(l.JobId, tx.From, l.Provider, l.Amount, l.ExpiresAt, EscrowStatus.Locked, height));
        return null;
    }

    private static Refusal? Settle(Scratch s, Transaction tx, EscrowSettleBody b, long height, long blockTime)
    {
        var escrow = s.Escrow(b.JobId);
        if (escrow is null)
        {
            return new(RefusalCode.EscrowState, $"no escrow for job '{b.JobId}'");
        }
        if (escrow.Status != EscrowStatus.Locked)
        {
            return new(RefusalCode.EscrowState, $"the escrow for job '{b.JobId}' is already {EscrowState.StatusName(escrow.Status)}");
        }
        if (tx.From != escrow.Provider)
        {
            return new(RefusalCode.EscrowState, "only the escrow's provider may settle it");
        }
        if (blockTime >= escrow.ExpiresAt)
        {
            return new(RefusalCode.EscrowState, $"the escrow expired at {escrow.ExpiresAt} (block time {blockTime})");
        }
        if (b.Amount > escrow.Amount)
        {
            return new(RefusalCode.EscrowState, $"settle amount {b.Amount} exceeds the escrowed {escrow.Amount}");
        }
        if (!s.Credit(escrow.Provider, b.Amount) || !s.Credit(escrow.Client, new Amount(escrow.Amount.Units - b.Amount.Units)))
        {
            return new(RefusalCode.InvalidAmount, "a balance would overflow");
        }
        s.Set(escrow with { Status = EscrowStatus.Settled, Paid = b.Amount, Receipt = b.Receipt, ClosedHeight = height });
        return null;
    }

    private static Refusal? Refund(Scratch s, Transaction tx, EscrowRefundBody r, long height, long blockTime)
    {
        var escrow = s.Escrow(r.JobId);
        if (escrow is null)
        {
            return new(RefusalCode.EscrowState, $"no escrow for job '{r.JobId}'");
        }
        if (escrow.Status != EscrowStatus.Locked)
        {
            return new(RefusalCode.EscrowState, $"the escrow for job '{r.JobId}' is already {EscrowState.StatusName(escrow.Status)}");
        }
        if (tx.From == escrow.Client && tx.From != escrow.Provider && blockTime < escrow.ExpiresAt)
        {
            return new(RefusalCode.EscrowState, $"the client may refund only once the escrow expires at {escrow.ExpiresAt} (block time {blockTime})");
        }
        if (tx.From != escrow.Client && tx.From != escrow.Provider)
        {
            return new(RefusalCode.EscrowState, "only the escrow's client or provider may refund it");
        }
        if (!s.Credit(escrow.Client, escrow.Amount))
        {
            return new(RefusalCode.InvalidAmount, "the client's balance would overflow");
        }
        s.Set(escrow with { Status = EscrowStatus.Refunded, ClosedHeight = height });
        return null;
    }

    /// <summary>One transaction's writes, kept aside until it succeeds, so a refusal changes nothing.</summary>
    private sealed class Scratch(BlockState state)
    {
        private readonly Dictionary<Address, AccountState> _accounts = [];
        private EscrowState? _escrow;

        public AccountState Account(Address a) => _accounts.TryGetValue(a, out var v) ? v : state.Account(a);

        public EscrowState? Escrow(string jobId) => _escrow?.JobId == jobId ? _escrow : state.Escrow(jobId);

        public void Set(Address a, AccountState v) => _accounts[a] = v;

        public void Set(EscrowState e) => _escrow = e;

        public bool Credit(Address a, Amount amount)
        {
            var acct = Account(a);
            if (!Amount.TryAdd(acct.Balance, amount, out var sum))
            {
                return false;
            }
            Set(a, acct with { Balance = sum });
            return true;
        }

        public void CommitTo(BlockState target)
        {
            foreach (var (a, v) in _accounts)
            {
                target.Set(a, v);
            }
            if (_escrow is not null)
            {
                target.Set(_escrow);
            }
        }
    }
}
