using System.Diagnostics.CodeAnalysis;

namespace Aitbc.Core;

/// <summary>Lowercase hex, the only hex the protocol accepts.</summary>
public static class Hex
{
    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static bool TryDecode(string? hex, int length, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (hex is null || hex.Length != length * 2)
        {
            return false;
        }
        foreach (var c in hex)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }
        bytes = Convert.FromHexString(hex);
        return true;
    }
}
