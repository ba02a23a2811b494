using Aitbc.Core;

namespace Aitbc.Node;

/// <summary>A one-machine development network: a validator key, a funded faucet, and a genesis naming both.</summary>
public static class Devnet
{
    public static readonly Amount FaucetFunds = Amount.FromAit(1_000_000_000);

    public sealed record Files(string Genesis, string ValidatorKey, string FaucetKey);

    public static Files PathsIn(string dataDir) =>
        new(Path.Combine(dataDir, "genesis.json"), Path.Combine(dataDir, "validator.key"), Path.Combine(dataDir, "faucet.key"));

    /// <summary>Writes a new devnet into <paramref name="dataDir"/> (which must hold no genesis yet).</summary>
    public static Files Create(string dataDir, string chainId = Genesis.DevnetChainId, IEnumerable<GenesisAllocation>? extra = null)
    {
        var files = PathsIn(dataDir);
        if (File.Exists(files.Genesis))
        {
            throw new InvalidOperationException($"'{files.Genesis}' exists already.");
        }
        Directory.CreateDirectory(dataDir);
        using var validator = KeyFile.Create(files.ValidatorKey);
        using var faucet = KeyFile.Create(files.FaucetKey);
        var genesis = new Genesis(chainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            [new GenesisValidator(validator.Address, 1, "validator-0")],
            [new GenesisAllocation(faucet.Address, FaucetFunds), .. extra ?? []],
            new ChainParameters { Faucet = faucet.Address });
        genesis.Validate();
        File.WriteAllBytes(files.Genesis, genesis.ToJsonBytes());
        return files;
    }
}
