using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aitbc.Core;

/// <summary>An account: the 32-byte Ed25519 public key, written as bech32m with prefix <c>ait</c>.</summary>
[JsonConverter(typeof(AddressJsonConverter))]
public readonly struct Address : IEquatable<Address>
{
    public const string Prefix = "ait";
    private readonly Bytes32 _key;

    public Address(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != 32)
        {
            throw new ArgumentException("An address is a 32-byte public key.", nameof(publicKey));
        }
        _key = new Bytes32(publicKey);
    }

    public ReadOnlySpan<byte> PublicKey => _key.Span;

    public bool IsEmpty => _key.IsZero;

    public static Address Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException($"Invalid address '{text}': {error}.");

    public static bool TryParse([NotNullWhen(true)] string? text, out Address address, [NotNullWhen(false)] out string? error)
    {
        address = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "empty";
            return false;
        }
        var bytes = Bech32m.Decode(text, Prefix, out error);
        if (bytes is null)
        {
            error ??= "invalid";
            return false;
        }
        if (bytes.Length != 32)
        {
            error = "wrong length";
            return false;
        }
        address = new Address(bytes);
        return true;
    }

    public override string ToString() => Bech32m.Encode(Prefix, _key.Span);

    public bool Equals(Address other) => _key.Equals(other._key);

    public override bool Equals(object? obj) => obj is Address other && Equals(other);

    public override int GetHashCode() => _key.GetHashCode();

    public static bool operator ==(Address left, Address right) => left.Equals(right);

    public static bool operator !=(Address left, Address right) => !left.Equals(right);
}

public sealed class AddressJsonConverter : JsonConverter<Address>
{
    public override Address Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String || !Address.TryParse(reader.GetString(), out var address, out var error))
        {
            throw new JsonException("invalid address");
        }
        _ = error;
        return address;
    }

    public override void Write(Utf8JsonWriter writer, Address value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
