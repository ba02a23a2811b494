using System.Text;
using System.Text.Json;

namespace Aitbc.Core.Tests;

public sealed class CanonicalJsonTests
{
    private static string Canonical(string json) => Encoding.UTF8.GetString(CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(json)));

    public static TheoryData<string> Vectors => CoreVectors.Names("canonicalJson");

    public static TheoryData<string> RejectedVectors => CoreVectors.Names("rejectedCanonicalJson");

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Canonicalize_reproduces_the_vectors(string name)
    {
        var v = CoreVectors.Named("canonicalJson", name);

        var output = CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(v.Text("input")));

        Assert.Equal(v.Text("outputHex"), Hex.Encode(output));
        Assert.Equal(v.Text("output"), Encoding.UTF8.GetString(output));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Canonicalize_is_idempotent(string name)
    {
        var output = CoreVectors.Named("canonicalJson", name).Text("output");

        Assert.Equal(output, Canonical(output));
    }

    [Theory]
    [MemberData(nameof(RejectedVectors))]
    public void Canonicalize_refuses_the_rejected_vectors(string name)
    {
        var input = CoreVectors.Named("rejectedCanonicalJson", name).Text("input");

        var e = Record.Exception(() => CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(input)));

        Assert.True(e is FormatException or JsonException or InvalidOperationException, $"{name}: {e?.GetType().Name ?? "no exception"}");
    }

    [Fact]
    public void Keys_are_sorted_by_UTF16_code_units_as_in_RFC8785()
    {
        // RFC 8785 section 3.2.3: "\r" < "1" < U+0080 < U+00F6 < U+20AC < U+1F600 (as D83D DE00) < U+FB33.
        const string Input = """{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}""";
        const string Expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
            "\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}";

        Assert.Equal(Expected, Canonical(Input));
    }

    [Fact]
    public void Strings_use_only_the_mandatory_escapes_as_in_RFC8785()
    {
        // RFC 8785 section 3.2.2, the string and literals of its example.
        const string Input = """{"literals":[null,true,false],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}""";
        const string Expected = """{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}""";

        Assert.Equal(Expected, Canonical(Input));
    }

    [Fact]
    public void Control_characters_are_escaped_with_lowercase_hex()
    {
        Assert.Equal("""["\u001f\u0000\u000b\b\t\n\f\r"]""", Canonical("""["\u001F\u0000\u000B\b\t\n\f\r"]"""));
    }

    [Fact]
    public void Non_ASCII_and_HTML_characters_are_written_as_UTF8()
    {
        var output = CanonicalJson.Canonicalize("""["Gr\u00fc\u00dfe \ud83d\ude80 <&>'"]"""u8);

        Assert.Equal("[\"Grüße 🚀 <&>'\"]"u8.ToArray(), output);
    }

    [Fact]
    public void Whitespace_is_removed_and_nested_objects_sorted()
    {
        Assert.Equal("""{"a":[{"x":1,"y":2}],"b":{"c":{}}}""", Canonical(" {\n \"b\" : { \"c\" : { } } , \"a\" : [ { \"y\" : 2 , \"x\" : 1 } ] }\n"));
    }

    [Fact]
    public void Canonicalize_refuses_duplicate_keys()
    {
        var e = Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize("""{"b":1,"a":2,"b":3}"""u8));

        Assert.Contains("Duplicate property 'b'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.25")]
    [InlineData("1e-7")]
    [InlineData("9007199254740992")]
    [InlineData("-9007199254740992")]
    [InlineData("1e400")]
    public void Canonicalize_refuses_non_integers_and_unsafe_integers(string number)
    {
        var e = Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes($"[{number}]")));

        Assert.Contains("Only integers", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.0", "1")]
    [InlineData("-0", "0")]
    [InlineData("1e3", "1000")]
    [InlineData("9007199254740991", "9007199254740991")]
    [InlineData("-9007199254740991", "-9007199254740991")]
    public void Integral_numbers_are_written_as_integers(string number, string expected)
    {
        Assert.Equal($"[{expected}]", Canonical($"[{number}]"));
    }

    [Theory]
    [InlineData("""["\ud800"]""")]
    [InlineData("""["\udc00"]""")]
    [InlineData("""["\ude00\ud83d"]""")]
    [InlineData("""{"\ud800":1}""")]
    public void Canonicalize_refuses_lone_surrogates(string json)
    {
        Assert.Throws<InvalidOperationException>(() => CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Writer_refuses_lone_surrogates()
    {
        var writer = new CanonicalJsonWriter();

        Assert.ThrowsAny<ArgumentException>(() => writer.String("a\ud800b"));
        Assert.ThrowsAny<ArgumentException>(() => new CanonicalJsonWriter().Name("\udc00"));
    }

    [Fact]
    public void Writer_refuses_unsafe_integers()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CanonicalJsonWriter().Integer(CanonicalJson.MaxSafeInteger + 1));
    }

    [Fact]
    public void Writer_separates_members_and_elements()
    {
        var w = new CanonicalJsonWriter();
        w.Prefix("TAG\n"u8);
        w.StartObject();
        w.Property("a", 1);
        w.Name("b");
        w.StartArray();
        w.String("x");
        w.Integer(-2);
        w.StartObject();
        w.EndObject();
        w.EndArray();
        w.Property("c", "\"");
        w.EndObject();

        Assert.Equal("TAG\n{\"a\":1,\"b\":[\"x\",-2,{}],\"c\":\"\\\"\"}", Encoding.UTF8.GetString(w.WrittenSpan));
    }

    [Fact]
    public void Canonicalize_refuses_malformed_JSON()
    {
        Assert.ThrowsAny<JsonException>(() => CanonicalJson.Canonicalize("{\"a\":1} x"u8));
        Assert.ThrowsAny<JsonException>(() => CanonicalJson.Canonicalize("{'a':1}"u8));
    }
}
