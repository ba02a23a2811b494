using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aitbc.Core;

/// <summary>A SHA-256 digest, written as 64 lowercase hex characters.</summary>
[JsonConverter(typeof(Hash256JsonConverter))]
public readonly struct Hash256 : IEquatable<Hash256>
{
    private readonly Bytes32 _bytes;

    public Hash256(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 32)
        {
            throw new ArgumentException("A hash is 32 bytes.", nameof(bytes));
        }
        _bytes = new Bytes32(bytes);
    }

    public static Hash256 Zero => default;

    public bool IsZero => _bytes.IsZero;

    public static Hash256 Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(data, digest);
        return new Hash256(digest);
    }

    public void CopyTo(Span<byte> destination) => _bytes.CopyTo(destination);

    public byte[] ToArray()
    {
        var bytes = new byte[32];
        _bytes.CopyTo(bytes);
        return bytes;
    }

    public static bool TryParse(string? hex, out Hash256 hash)
    {
        hash = default;
        if (!Hex.TryDecode(hex, 32, out var bytes))
        {
            return false;
        }
        hash = new Hash256(bytes);
        return true;
    }

    public static Hash256 Parse(string hex) =>
        TryParse(hex, out var hash) ? hash : throw new FormatException("A hash is 64 lowercase hex characters.");

    public override string ToString() => Convert.ToHexStringLower(ToArray());

    public bool Equals(Hash256 other) => _bytes.Equals(other._bytes);

    public override bool Equals(object? obj) => obj is Hash256 other && Equals(other);

    public override int GetHashCode() => _bytes.GetHashCode();

    public static bool operator ==(Hash256 left, Hash256 right) => left.Equals(right);

    public static bool operator !=(Hash256 left, Hash256 right) => !left.Equals(right);
}

public sealed class Hash256JsonConverter : JsonConverter<Hash256>
{
    public override Hash256 Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && Hash256.TryParse(reader.GetString(), out var hash)
            ? hash
            : throw new JsonException("invalid hash");

    public override void Write(Utf8JsonWriter writer, Hash256 value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
