using System.Text.Json;
using Aitbc.Core;

namespace Aitbc.Wallet.Keystore;

/// <summary>The export format: <c>{"format":"aitbc-wallet/v1", name, address, kdf, salt, nonce, ciphertext}</c>, byte fields in hex.</summary>
internal sealed record ExportFile(string Format, string Name, string Address, string Kdf, int Passes, int MemoryKiB, string Salt, string Nonce, string Ciphertext)
{
    public const string CurrentFormat = "aitbc-wallet/v1";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static ExportFile From(WalletRecord r) => new(CurrentFormat, r.Name, r.Address.ToString(), "argon2id", r.Sealed.Cost.Passes,
        r.Sealed.Cost.MemoryKiB, Hex.Encode(r.Sealed.Salt), Hex.Encode(r.Sealed.Nonce), Hex.Encode(r.Sealed.Ciphertext));

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public SealedSeed ToSealed() => new(Core.Address.Parse(Address), new KdfCost(Passes, MemoryKiB),
        Convert.FromHexString(Salt), Convert.FromHexString(Nonce), Convert.FromHexString(Ciphertext));

    public static ExportFile? Parse(ReadOnlySpan<byte> json, out string? error)
    {
        ExportFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ExportFile>(json, Json);
        }
        catch (JsonException e)
        {
            error = $"not a wallet export: {e.Message}";
            return null;
        }
        error = file switch
        {
            null => "not a wallet export",
            { Format: not CurrentFormat } => $"unknown export format '{file.Format}'",
            { Kdf: not "argon2id" } => $"unknown key derivation '{file.Kdf}'",
            _ when !Core.Address.TryParse(file.Address, out _, out var why) => $"invalid address: {why}",
            _ when file.Passes is < 1 or > 64 || file.MemoryKiB is < 8 or > 4 * 1024 * 1024 => "key derivation cost out of range",
            _ when !Hex.TryDecode(file.Salt, 16, out _) || !Hex.TryDecode(file.Nonce, 24, out _) || !Hex.TryDecode(file.Ciphertext, 48, out _)
                => "salt, nonce or ciphertext has the wrong length",
            _ => null,
        };
        return error is null ? file : null;
    }
}
