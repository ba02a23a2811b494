using System.Security.Cryptography;

namespace Aitbc.Core;

/// <summary>
/// Merkle root of transaction ids, RFC 6962 style: leaf = SHA-256(0x00 || id),
/// node = SHA-256(0x01 || left || right), an odd node is carried up unchanged; empty = SHA-256("").
/// </summary>
public static class Merkle
{
    public static Hash256 Root(IReadOnlyList<Hash256> leaves)
    {
        if (leaves.Count == 0)
        {
            return Hash256.Compute([]);
        }
        var level = new Hash256[leaves.Count];
        Span<byte> buf = stackalloc byte[65];
        Span<byte> digest = stackalloc byte[32];
        for (var i = 0; i < leaves.Count; i++)
        {
            buf[0] = 0;
            leaves[i].CopyTo(buf[1..]);
            SHA256.HashData(buf[..33], digest);
            level[i] = new Hash256(digest);
        }
        var count = level.Length;
        while (count > 1)
        {
            var next = 0;
            for (var i = 0; i < count; i += 2)
            {
                if (i + 1 == count)
                {
                    level[next++] = level[i];
                    continue;
                }
                buf[0] = 1;
                level[i].CopyTo(buf[1..]);
                level[i + 1].CopyTo(buf[33..]);
                SHA256.HashData(buf, digest);
                level[next++] = new Hash256(digest);
            }
            count = next;
        }
        return level[0];
    }
}
