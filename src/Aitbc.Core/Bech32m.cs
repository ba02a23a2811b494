namespace Aitbc.Core;

/// <summary>BIP-350 bech32m over arbitrary bytes (no witness version byte).</summary>
public static class Bech32m
{
    private const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    private const uint Constant = 0x2bc830a3;
    private static readonly sbyte[] Reverse = BuildReverse();

    private static sbyte[] BuildReverse()
    {
        var map = new sbyte[128];
        Array.Fill(map, (sbyte)-1);
        for (var i = 0; i < Charset.Length; i++)
        {
            map[Charset[i]] = (sbyte)i;
        }
        return map;
    }

    private static uint PolyMod(ReadOnlySpan<byte> values, uint chk)
    {
        ReadOnlySpan<uint> gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        foreach (var v in values)
        {
            var top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ v;
            for (var i = 0; i < 5; i++)
            {
                if (((top >> i) & 1) != 0)
                {
                    chk ^= gen[i];
                }
            }
        }
        return chk;
    }

    private static uint HrpChecksumState(string hrp)
    {
        Span<byte> expanded = stackalloc byte[(hrp.Length * 2) + 1];
        for (var i = 0; i < hrp.Length; i++)
        {
            expanded[i] = (byte)(hrp[i] >> 5);
            expanded[hrp.Length + 1 + i] = (byte)(hrp[i] & 31);
        }
        expanded[hrp.Length] = 0;
        return PolyMod(expanded, 1);
    }

    public static string Encode(string hrp, ReadOnlySpan<byte> data)
    {
        var groups = ConvertBits(data, 8, 5, pad: true)!;
        var state = PolyMod(groups, HrpChecksumState(hrp));
        state = PolyMod([0, 0, 0, 0, 0, 0], state) ^ Constant;
        var chars = new char[hrp.Length + 1 + groups.Length + 6];
        hrp.CopyTo(chars);
        chars[hrp.Length] = '1';
        var pos = hrp.Length + 1;
        foreach (var g in groups)
        {
            chars[pos++] = Charset[g];
        }
        for (var i = 0; i < 6; i++)
        {
            chars[pos++] = Charset[(int)((state >> (5 * (5 - i))) & 31)];
        }
        return new string(chars);
    }

    /// <summary>Decodes a bech32m string; returns null with a reason when it is not valid.</summary>
    public static byte[]? Decode(string text, string expectedHrp, out string? error)
    {
        error = null;
        if (text.Length > 90)
        {
            error = "too long";
            return null;
        }
        var hasLower = false;
        var hasUpper = false;
        foreach (var c in text)
        {
            if (c is < (char)33 or > (char)126)
            {
                error = "invalid character";
                return null;
            }
            hasLower |= char.IsAsciiLetterLower(c);
            hasUpper |= char.IsAsciiLetterUpper(c);
        }
        if (hasLower && hasUpper)
        {
            error = "mixed case";
            return null;
        }
        var lower = text.ToLowerInvariant();
        var sep = lower.LastIndexOf('1');
        if (sep < 1 || sep + 7 > lower.Length)
        {
            error = "missing separator or checksum";
            return null;
        }
        var hrp = lower[..sep];
        if (hrp != expectedHrp)
        {
            error = $"prefix must be '{expectedHrp}'";
            return null;
        }
        var values = new byte[lower.Length - sep - 1];
        for (var i = 0; i < values.Length; i++)
        {
            var c = lower[sep + 1 + i];
            var v = c < 128 ? Reverse[c] : -1;
            if (v < 0)
            {
                error = $"invalid character '{c}'";
                return null;
            }
            values[i] = (byte)v;
        }
        if (PolyMod(values, HrpChecksumState(hrp)) != Constant)
        {
            error = "checksum mismatch";
            return null;
        }
        var data = ConvertBits(values.AsSpan(0, values.Length - 6), 5, 8, pad: false);
        if (data is null)
        {
            error = "invalid padding";
        }
        return data;
    }

    private static byte[]? ConvertBits(ReadOnlySpan<byte> data, int from, int to, bool pad)
    {
        var acc = 0;
        var bits = 0;
        var maxv = (1 << to) - 1;
        var result = new List<byte>((data.Length * from / to) + 1);
        foreach (var value in data)
        {
            acc = (acc << from) | value;
            bits += from;
            while (bits >= to)
            {
                bits -= to;
                result.Add((byte)((acc >> bits) & maxv));
            }
        }
        if (pad)
        {
            if (bits > 0)
            {
                result.Add((byte)((acc << (to - bits)) & maxv));
            }
        }
        else if (bits >= from || ((acc << (to - bits)) & maxv) != 0)
        {
            return null;
        }
        return [.. result];
    }
}
