using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;

namespace Aitbc.Cli.Interaction;

/// <summary>An amount as the CLI's JSON writes it: base units as a decimal string, and the same formatted in AIT.</summary>
internal sealed record AmountJson(string Units, string Ait)
{
    public static AmountJson Of(Amount a) => new(a.ToString(), a.ToAitString());
}

internal sealed record ErrorBody(string Code, string Message, int ExitCode);

/// <summary>What --json prints when a command fails: <c>{"error": {code, message, exitCode}}</c>.</summary>
internal sealed record ErrorDocument(ErrorBody Error);

internal sealed record ChainStatusJson(string Node, string ChainId, long Height, string LatestHash, long LatestTime, string GenesisHash, AmountJson MinFee, string? Faucet);

internal sealed record BlockJson(long Height, string Hash, string PrevHash, long Time, string Proposer, string StateRoot, string TxRoot, IReadOnlyList<TxJson> Txs);

internal sealed record TxStatusJson(string Hash, string Status, long? Height, int? Index, string? Reason, TxJson? Tx);

internal sealed record AccountJson(string Address, AmountJson Balance, long Nonce, long NextNonce, int Pending, long Height);

internal sealed record EscrowJson(string JobId, string Status, string Client, string Provider, AmountJson Amount, AmountJson Paid, long ExpiresAt, long LockedHeight,
    long? ClosedHeight, string? Receipt);

internal sealed record FaucetJson(string Address, string Tx, string Status, long? Height, AmountJson Balance);

internal sealed record WatchBlockJson(string Event, long Height, string Hash, long Time, string Proposer, int TxCount);

internal sealed record WatchTxJson(string Event, string Address, long Height, TxJson Tx);

/// <summary>The JSON documents the CLI prints, source-generated (start-up time matters for a CLI).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ErrorDocument))]
[JsonSerializable(typeof(ChainStatusJson))]
[JsonSerializable(typeof(BlockJson))]
[JsonSerializable(typeof(TxStatusJson))]
[JsonSerializable(typeof(AccountJson))]
[JsonSerializable(typeof(EscrowJson))]
[JsonSerializable(typeof(FaucetJson))]
internal sealed partial class CliOutput : JsonSerializerContext
{
    /// <summary>One compact document per line, for the commands that stream (<c>chain watch</c>, <c>devnet logs</c>).</summary>
    public static LineOutput Lines => LineOutput.Default;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WatchBlockJson))]
[JsonSerializable(typeof(WatchTxJson))]
internal sealed partial class LineOutput : JsonSerializerContext;
