using System.Buffers.Binary;
using System.Text;
using Aitbc.Core;

namespace Aitbc.Node.Chain;

/// <summary>An account's committed state. An account with zero balance and nonce does not exist.</summary>
public readonly record struct AccountState(Amount Balance, long Nonce)
{
    public bool IsEmpty => Balance.IsZero && Nonce == 0;

    internal byte[] Encode()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Balance.Units);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(8), Nonce);
        return bytes;
    }

    internal static AccountState Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 16)
        {
            throw new StorageCorruptException("an account record is not 16 bytes");
        }
        return new(new Amount(BinaryPrimitives.ReadUInt64BigEndian(bytes)), BinaryPrimitives.ReadInt64BigEndian(bytes[8..]));
    }

    /// <summary>The bytes hashed into the state commitment.</summary>
    internal byte[] LeafBytes(Address address)
    {
        var leaf = new byte[1 + 32 + 16];
        leaf[0] = (byte)'A';
        address.PublicKey.CopyTo(leaf.AsSpan(1));
        Encode().CopyTo(leaf.AsSpan(33));
        return leaf;
    }
}

public enum EscrowStatus
{
    Locked,
    Settled,
    Refunded,
}

/// <summary>An escrow keyed by job id: locked → settled | refunded. Job ids are unique forever.</summary>
public sealed record EscrowState(
    string JobId, Address Client, Address Provider, Amount Amount, long ExpiresAt, EscrowStatus Status,
    long LockedHeight, Amount Paid = default, Hash256 Receipt = default, long ClosedHeight = 0)
{
    public static string StatusName(EscrowStatus s) => s switch
    {
        EscrowStatus.Locked => "locked",
        EscrowStatus.Settled => "settled",
        _ => "refunded",
    };

    internal byte[] Encode()
    {
        var w = new CanonicalJsonWriter();
        w.StartObject();
        w.Property("amount", Amount.ToString());
        w.Property("client", Client.ToString());
        w.Property("closedHeight", ClosedHeight);
        w.Property("expiresAt", ExpiresAt);
        w.Property("jobId", JobId);
        w.Property("lockedHeight", LockedHeight);
        w.Property("paid", Paid.ToString());
        w.Property("provider", Provider.ToString());
        w.Property("receipt", Receipt.ToString());
        w.Property("status", StatusName(Status));
        w.EndObject();
        return w.ToArray();
    }

    internal static EscrowState Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(bytes.ToArray());
            var e = doc.RootElement;
            string S(string n) => e.GetProperty(n).GetString() ?? throw new FormatException(n);
            long L(string n) => e.GetProperty(n).GetInt64();
            var status = S("status") switch
            {
                "locked" => EscrowStatus.Locked,
                "settled" => EscrowStatus.Settled,
                "refunded" => EscrowStatus.Refunded,
                var other => throw new FormatException(other),
            };
            return new EscrowState(S("jobId"), Address.Parse(S("client")), Address.Parse(S("provider")), Core.Amount.Parse(S("amount")),
                L("expiresAt"), status, L("lockedHeight"), Core.Amount.Parse(S("paid")), Hash256.Parse(S("receipt")), L("closedHeight"));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new StorageCorruptException($"an escrow record cannot be read ({e.Message})");
        }
    }

    internal byte[] LeafBytes()
    {
        var body = Encode();
        var leaf = new byte[1 + body.Length];
        leaf[0] = (byte)'E';
        body.CopyTo(leaf, 1);
        return leaf;
    }

    internal static byte[] Key(string jobId) => Encoding.UTF8.GetBytes(jobId);
}

/// <summary>Storage holds something the node cannot read back as it wrote it. The node stops; it never guesses.</summary>
public sealed class StorageCorruptException(string message) : Exception($"Corrupt storage: {message}.");
