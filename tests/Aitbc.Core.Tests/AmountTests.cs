using System.Text.Json;

namespace Aitbc.Core.Tests;

public sealed class AmountTests
{
    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("1", 1UL)]
    [InlineData("1000", 1000UL)]
    [InlineData("2500000000", 2_500_000_000UL)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    public void Parse_and_format_round_trip(string text, ulong units)
    {
        var amount = Amount.Parse(text);

        Assert.Equal(units, amount.Units);
        Assert.Equal(text, amount.ToString());
    }

    [Fact]
    public void Parse_accepts_max_u64()
    {
        Assert.True(Amount.TryParse("18446744073709551615", out var amount));
        Assert.Equal(ulong.MaxValue, amount.Units);
    }

    [Theory]
    [InlineData("00")]
    [InlineData("01")]
    [InlineData("0001000")]
    public void Parse_rejects_leading_zeros(string text)
    {
        Assert.False(Amount.TryParse(text, out _));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-0")]
    [InlineData("+1")]
    public void Parse_rejects_signs(string text)
    {
        Assert.False(Amount.TryParse(text, out _));
    }

    [Theory]
    [InlineData("18446744073709551616")]
    [InlineData("99999999999999999999")]
    [InlineData("100000000000000000000")]
    public void Parse_rejects_overflow(string text)
    {
        Assert.False(Amount.TryParse(text, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("1_000")]
    [InlineData("\u0661")] // ARABIC-INDIC DIGIT ONE: a digit, but not ASCII
    public void Parse_rejects_anything_but_ascii_digits(string? text)
    {
        Assert.False(Amount.TryParse(text, out _));
    }

    [Fact]
    public void Parse_throws_FormatException()
    {
        var e = Assert.Throws<FormatException>(() => Amount.Parse("01"));

        Assert.Contains("'01'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryAdd_detects_overflow()
    {
        Assert.True(Amount.TryAdd(new Amount(ulong.MaxValue - 1), new Amount(1), out var sum));
        Assert.Equal(ulong.MaxValue, sum.Units);
        Assert.False(Amount.TryAdd(new Amount(ulong.MaxValue), new Amount(1), out _));
        Assert.False(Amount.TryAdd(new Amount(ulong.MaxValue), new Amount(ulong.MaxValue), out _));
    }

    [Fact]
    public void TrySubtract_detects_underflow()
    {
        Assert.True(Amount.TrySubtract(new Amount(2), new Amount(2), out var zero));
        Assert.True(zero.IsZero);
        Assert.False(Amount.TrySubtract(new Amount(1), new Amount(2), out var difference));
        Assert.Equal(Amount.Zero, difference);
    }

    [Theory]
    [InlineData("1.5", 1_500_000_000UL)]
    [InlineData("1", 1_000_000_000UL)]
    [InlineData("0", 0UL)]
    [InlineData("0.000000001", 1UL)]
    [InlineData("12.345678901", 12_345_678_901UL)]
    [InlineData("18446744073.709551615", ulong.MaxValue)]
    public void TryParseAit_reads_decimal_AIT(string text, ulong units)
    {
        Assert.True(Amount.TryParseAit(text, out var amount));
        Assert.Equal(units, amount.Units);
    }

    [Theory]
    [InlineData("1.0000000001")] // 10 decimals
    [InlineData("0.0000000001")]
    [InlineData("18446744073.709551616")]
    [InlineData("18446744074")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("-1")]
    [InlineData("1,5")]
    [InlineData("1.5.0")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParseAit_rejects_bad_input(string? text)
    {
        Assert.False(Amount.TryParseAit(text, out _));
    }

    [Theory]
    [InlineData(0UL, "0")]
    [InlineData(1UL, "0.000000001")]
    [InlineData(1_500_000_000UL, "1.5")]
    [InlineData(2_000_000_000UL, "2")]
    [InlineData(ulong.MaxValue, "18446744073.709551615")]
    public void ToAitString_formats_for_people(ulong units, string text)
    {
        Assert.Equal(text, new Amount(units).ToAitString());
        Assert.True(Amount.TryParseAit(text, out var back));
        Assert.Equal(units, back.Units);
    }

    [Fact]
    public void FromAit_is_checked()
    {
        Assert.Equal(5_000_000_000UL, Amount.FromAit(5).Units);
        Assert.Throws<OverflowException>(() => Amount.FromAit(18_446_744_074));
    }

    [Fact]
    public void Comparisons_follow_the_units()
    {
        var one = new Amount(1);
        var two = new Amount(2);

        Assert.True(one < two);
        Assert.True(two > one);
        Assert.True(one <= new Amount(1));
        Assert.True(two >= one);
        Assert.True(one.CompareTo(two) < 0);
    }

    [Fact]
    public void Json_converter_writes_a_string()
    {
        Assert.Equal("\"1500000000\"", JsonSerializer.Serialize(new Amount(1_500_000_000)));
        Assert.Equal("\"18446744073709551615\"", JsonSerializer.Serialize(new Amount(ulong.MaxValue)));
        Assert.Equal("{\"Fee\":\"1000\"}", JsonSerializer.Serialize(new { Fee = new Amount(1000) }));
    }

    [Theory]
    [InlineData("\"1500000000\"", 1_500_000_000UL)]
    [InlineData("\"0\"", 0UL)]
    public void Json_converter_reads_a_string(string json, ulong units)
    {
        Assert.Equal(units, JsonSerializer.Deserialize<Amount>(json).Units);
    }

    [Theory]
    [InlineData("1500000000")]
    [InlineData("1.5")]
    [InlineData("\"01\"")]
    [InlineData("\"-1\"")]
    [InlineData("\"18446744073709551616\"")]
    [InlineData("null")]
    public void Json_converter_rejects_numbers_and_bad_strings(string json)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Amount>(json));
    }
}
