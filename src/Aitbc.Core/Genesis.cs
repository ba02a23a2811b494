using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aitbc.Core;

public sealed record GenesisValidator(Address Address, long Power, string Name);

public sealed record GenesisAllocation(Address Address, Amount Amount);

public sealed record ChainParameters
{
    public Amount MinFee { get; init; } = new(1_000);
    public int MinBlockIntervalMs { get; init; } = 200;
    public int EmptyBlockIntervalMs { get; init; } = 10_000;
    public int MaxBlockTxs { get; init; } = 20_000;
    /// <summary>The devnet faucet's account, or null on a network without one.</summary>
    public Address? Faucet { get; init; }
    public Amount FaucetAmount { get; init; } = Amount.FromAit(100);
}

/// <summary>The genesis file: the chain's id, start time, validators, allocations and parameters.</summary>
public sealed record Genesis(
    string ChainId, long GenesisTime, IReadOnlyList<GenesisValidator> Validators,
    IReadOnlyList<GenesisAllocation> Allocations, ChainParameters Params)
{
    public const string DevnetChainId = "ait-devnet";

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>SHA-256 of <c>AITBC/genesis/v1\n</c> + JCS(genesis): the chain's identity, and block 0's prevHash.</summary>
    public Hash256 Hash()
    {
        var w = new CanonicalJsonWriter();
        w.Prefix(Domain.Genesis);
        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions));
        CanonicalJson.Write(w, doc.RootElement);
        return Hash256.Compute(w.WrittenSpan);
    }

    public static Genesis Parse(ReadOnlySpan<byte> json)
    {
        var genesis = JsonSerializer.Deserialize<Genesis>(json, JsonOptions) ?? throw new FormatException("The genesis file is empty.");
        genesis.Validate();
        return genesis;
    }

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions);

    public void Validate()
    {
        if (!TxLimits.IsValidChainId(ChainId))
        {
            throw new FormatException("genesis.chainId must be 1-64 characters of a-z, 0-9 and '-'.");
        }
        if (Validators.Count == 0 || Validators.Any(v => v.Power <= 0))
        {
            throw new FormatException("genesis.validators must name at least one validator, each with positive power.");
        }
        if (Validators.Select(v => v.Address).Distinct().Count() != Validators.Count)
        {
            throw new FormatException("genesis.validators names a validator twice.");
        }
        if (Allocations.Select(a => a.Address).Distinct().Count() != Allocations.Count)
        {
            throw new FormatException("genesis.allocations names an address twice.");
        }
        var total = Amount.Zero;
        foreach (var a in Allocations)
        {
            if (!Amount.TryAdd(total, a.Amount, out total))
            {
                throw new FormatException("genesis.allocations add up to more than 2^64-1 base units.");
            }
        }
        if (Params.MinBlockIntervalMs < 1 || Params.EmptyBlockIntervalMs < Params.MinBlockIntervalMs || Params.MaxBlockTxs < 1)
        {
            throw new FormatException("genesis.params block intervals or sizes are out of range.");
        }
    }
}
