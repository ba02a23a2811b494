using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Aitbc.Core;

/// <summary>
/// A quantity of AIT in base units (1 AIT = 10^9). Unsigned 64-bit, checked arithmetic,
/// written in JSON as a decimal string. Never floating point.
/// </summary>
[JsonConverter(typeof(AmountJsonConverter))]
public readonly record struct Amount(ulong Units) : IComparable<Amount>
{
    public const ulong UnitsPerAit = 1_000_000_000;

    public static Amount Zero => default;

    public static Amount FromAit(ulong ait) => new(checked(ait * UnitsPerAit));

    public bool IsZero => Units == 0;

    public static bool TryAdd(Amount a, Amount b, out Amount sum)
    {
        var s = a.Units + b.Units;
        sum = new Amount(s);
        return s >= a.Units;
    }

    public static bool TrySubtract(Amount a, Amount b, out Amount difference)
    {
        difference = a.Units >= b.Units ? new Amount(a.Units - b.Units) : default;
        return a.Units >= b.Units;
    }

    /// <summary>Parses the wire form: digits only, no sign, no leading zero, at most u64.</summary>
    public static bool TryParse(string? text, out Amount amount)
    {
        amount = default;
        if (string.IsNullOrEmpty(text) || text.Length > 20 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var units))
        {
            return false;
        }
        amount = new Amount(units);
        return true;
    }

    public static Amount Parse(string text) =>
        TryParse(text, out var amount) ? amount : throw new FormatException($"'{text}' is not an amount in base units.");

    /// <summary>Parses a human amount of AIT such as <c>12.5</c> (up to 9 decimals).</summary>
    public static bool TryParseAit(string? text, out Amount amount)
    {
        amount = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var whole = dot < 0 ? text : text[..dot];
        var frac = dot < 0 ? "" : text[(dot + 1)..];
        if (whole.Length == 0 || frac.Length > 9 || !whole.All(char.IsAsciiDigit) || !frac.All(char.IsAsciiDigit) || (dot >= 0 && frac.Length == 0))
        {
            return false;
        }
        if (!ulong.TryParse(whole, NumberStyles.None, CultureInfo.InvariantCulture, out var w))
        {
            return false;
        }
        var f = frac.Length == 0 ? 0UL : ulong.Parse(frac.PadRight(9, '0'), NumberStyles.None, CultureInfo.InvariantCulture);
        try
        {
            amount = new Amount(checked((w * UnitsPerAit) + f));
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    public int CompareTo(Amount other) => Units.CompareTo(other.Units);

    public static bool operator <(Amount a, Amount b) => a.Units < b.Units;

    public static bool operator >(Amount a, Amount b) => a.Units > b.Units;

    public static bool operator <=(Amount a, Amount b) => a.Units <= b.Units;

    public static bool operator >=(Amount a, Amount b) => a.Units >= b.Units;

    public override string ToString() => Units.ToString(CultureInfo.InvariantCulture);

    /// <summary>The amount in AIT with its decimals, for people (never for the wire).</summary>
    public string ToAitString()
    {
        var whole = Units / UnitsPerAit;
        var frac = Units % UnitsPerAit;
        return frac == 0
            ? whole.ToString(CultureInfo.InvariantCulture)
            : $"{whole.ToString(CultureInfo.InvariantCulture)}.{frac.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0')}";
    }
}

public sealed class AmountJsonConverter : JsonConverter<Amount>
{
    public override Amount Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && Amount.TryParse(reader.GetString(), out var amount)
            ? amount
            : throw new JsonException("an amount is a decimal string of base units");

    public override void Write(Utf8JsonWriter writer, Amount value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
