using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Aitbc.Core;

/// <summary>
/// RFC 8785 (JCS) canonical JSON. The protocol uses only strings, integers within ±(2^53-1),
/// booleans, null, arrays and objects; any other number is refused rather than guessed at.
/// </summary>
public static class CanonicalJson
{
    public const long MaxSafeInteger = 9_007_199_254_740_991;

    /// <summary>Canonical bytes of any JSON document of the protocol's subset.</summary>
    public static byte[] Canonicalize(ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray());
        var writer = new CanonicalJsonWriter();
        Write(writer, doc.RootElement);
        return writer.ToArray();
    }

    public static void Write(CanonicalJsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.StartObject();
                var props = element.EnumerateObject().Select(p => (p.Name, p.Value)).ToList();
                props.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                for (var i = 1; i < props.Count; i++)
                {
                    if (props[i].Name == props[i - 1].Name)
                    {
                        throw new FormatException($"Duplicate property '{props[i].Name}'.");
                    }
                }
                foreach (var (name, value) in props)
                {
                    writer.Name(name);
                    Write(writer, value);
                }
                writer.EndObject();
                break;
            case JsonValueKind.Array:
                writer.StartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }
                writer.EndArray();
                break;
            case JsonValueKind.String:
                writer.String(element.GetString()!);
                break;
            case JsonValueKind.Number:
                if (!element.TryGetInt64(out var n) || n is > MaxSafeInteger or < -MaxSafeInteger)
                {
                    if (element.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) <= MaxSafeInteger)
                    {
                        writer.Integer((long)d);
                        break;
                    }
                    throw new FormatException("Only integers within ±(2^53-1) are used in canonical JSON.");
                }
                writer.Integer(n);
                break;
            case JsonValueKind.True:
                writer.Raw("true"u8);
                break;
            case JsonValueKind.False:
                writer.Raw("false"u8);
                break;
            case JsonValueKind.Null:
                writer.Raw("null"u8);
                break;
            default:
                throw new FormatException("Unsupported JSON value.");
        }
    }
}

/// <summary>
/// Writes JCS output token by token. The caller writes object members in sorted order
/// (UTF-16 code unit order); the writer handles separators and escaping.
/// </summary>
public sealed class CanonicalJsonWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ArrayBufferWriter<byte> _buffer;
    private bool _needComma;

    public CanonicalJsonWriter(int initialCapacity = 256) => _buffer = new ArrayBufferWriter<byte>(initialCapacity);

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        Separator();
        _buffer.Write(bytes);
        _needComma = true;
    }

    /// <summary>Appends bytes with no separator logic (a prefix such as a domain tag).</summary>
    public void Prefix(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    public void StartObject()
    {
        Separator();
        Byte((byte)'{');
        _needComma = false;
    }

    public void EndObject()
    {
        Byte((byte)'}');
        _needComma = true;
    }

    public void StartArray()
    {
        Separator();
        Byte((byte)'[');
        _needComma = false;
    }

    public void EndArray()
    {
        Byte((byte)']');
        _needComma = true;
    }

    public void Name(string name)
    {
        Separator();
        WriteEscaped(name);
        Byte((byte)':');
        _needComma = false;
    }

    public void String(string value)
    {
        Separator();
        WriteEscaped(value);
        _needComma = true;
    }

    public void Integer(long value)
    {
        if (value is > CanonicalJson.MaxSafeInteger or < -CanonicalJson.MaxSafeInteger)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "Integers in canonical JSON stay within ±(2^53-1).");
        }
        Separator();
        Span<byte> digits = stackalloc byte[24];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        _buffer.Write(digits[..written]);
        _needComma = true;
    }

    public void Property(string name, string value)
    {
        Name(name);
        String(value);
    }

    public void Property(string name, long value)
    {
        Name(name);
        Integer(value);
    }

    private void Separator()
    {
        if (_needComma)
        {
            Byte((byte)',');
        }
    }

    private void Byte(byte b)
    {
        _buffer.GetSpan(1)[0] = b;
        _buffer.Advance(1);
    }

    private void WriteEscaped(string value)
    {
        Byte((byte)'"');
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c >= 0x20 && c != '"' && c != '\\')
            {
                continue;
            }
            Utf8(value.AsSpan(start, i - start));
            start = i + 1;
            switch (c)
            {
                case '"': Raw2((byte)'"'); break;
                case '\\': Raw2((byte)'\\'); break;
                case '\b': Raw2((byte)'b'); break;
                case '\f': Raw2((byte)'f'); break;
                case '\n': Raw2((byte)'n'); break;
                case '\r': Raw2((byte)'r'); break;
                case '\t': Raw2((byte)'t'); break;
                default:
                    _buffer.Write(Encoding.ASCII.GetBytes($"\\u{(int)c:x4}"));
                    break;
            }
        }
        Utf8(value.AsSpan(start));
        Byte((byte)'"');
    }

    private void Raw2(byte escaped)
    {
        Byte((byte)'\\');
        Byte(escaped);
    }

    private void Utf8(ReadOnlySpan<char> chars)
    {
        if (chars.IsEmpty)
        {
            return;
        }
        // Strict: a lone surrogate is not Unicode text and is refused, not replaced.
        var span = _buffer.GetSpan(StrictUtf8.GetMaxByteCount(chars.Length));
        var n = StrictUtf8.GetBytes(chars, span);
        _buffer.Advance(n);
    }
}
