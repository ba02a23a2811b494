using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Aitbc.Core;

/// <summary>Strict reading of a JSON object's members, each error naming the field.</summary>
internal readonly struct Fields
{
    private readonly JsonElement _e;
    private readonly string _where;

    public Fields(JsonElement e, string where, string[] allowed, out string? error)
    {
        _e = e;
        _where = where;
        error = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            error = $"{where} must be a JSON object";
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (!TryGetText(() => p.Name, out var name))
            {
                error = $"{where} has a field name that is not valid Unicode text";
                return;
            }
            if (!allowed.Contains(name))
            {
                error = $"{where} has an unknown field '{name}'";
                return;
            }
            if (!seen.Add(name))
            {
                error = $"{where} repeats the field '{name}'";
                return;
            }
        }
    }

    // System.Text.Json decodes strings lazily and throws on invalid UTF-8 or a lone surrogate
    // escape; for untrusted input that is a rejection, not a bug.
    private static bool TryGetText(Func<string> read, [NotNullWhen(true)] out string? text)
    {
        try
        {
            text = read();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    public bool Has(string name) => _e.TryGetProperty(name, out _);

    public bool String(string name, [NotNullWhen(true)] out string? value, ref string? error)
    {
        value = null;
        if (!_e.TryGetProperty(name, out var p))
        {
            error = $"{_where}.{name} is required";
            return false;
        }
        if (p.ValueKind != JsonValueKind.String)
        {
            error = $"{_where}.{name} must be a string";
            return false;
        }
        if (!TryGetText(() => p.GetString()!, out value))
        {
            error = $"{_where}.{name} is not valid Unicode text";
            return false;
        }
        return true;
    }

    public bool Integer(string name, out long value, ref string? error)
    {
        value = 0;
        if (!_e.TryGetProperty(name, out var p))
        {
            error = $"{_where}.{name} is required";
            return false;
        }
        if (p.ValueKind != JsonValueKind.Number || !p.TryGetInt64(out value) || value < 0 || value > CanonicalJson.MaxSafeInteger)
        {
            error = $"{_where}.{name} must be an integer from 0 to 2^53-1";
            return false;
        }
        return true;
    }

    public bool Amount(string name, out Amount value, ref string? error)
    {
        value = default;
        if (!String(name, out var text, ref error))
        {
            return false;
        }
        if (!Core.Amount.TryParse(text, out value))
        {
            error = $"{_where}.{name} must be a decimal string of base units that fits in 64 bits";
            return false;
        }
        return true;
    }

    public bool Address(string name, out Address value, ref string? error)
    {
        value = default;
        if (!String(name, out var text, ref error))
        {
            return false;
        }
        if (!Core.Address.TryParse(text, out value, out var why))
        {
            error = $"{_where}.{name} is not a valid address ({why})";
            return false;
        }
        return true;
    }

    public bool JobId([NotNullWhen(true)] out string? value, ref string? error)
    {
        if (!String("jobId", out value, ref error))
        {
            return false;
        }
        if (!TxLimits.IsValidJobId(value))
        {
            error = $"{_where}.jobId must be 1-{TxLimits.MaxJobIdLength} characters of letters, digits, '-', '_', '.', ':'";
            value = null;
            return false;
        }
        return true;
    }
}
