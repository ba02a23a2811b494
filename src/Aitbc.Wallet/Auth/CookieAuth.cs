using System.Security.Cryptography;
using System.Text;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Wallet.Auth;

/// <summary>
/// The daemon's full-access token, as bitcoind's cookie: a random token is written at start to a file only
/// the owner may read (0600, in a folder created 0700) beside the keystore; requests carry it as
/// <c>Authorization: Bearer &lt;token&gt;</c> (checked by <see cref="ApiGuard"/>). The file is removed when the daemon stops.
/// </summary>
internal sealed class CookieAuth : IDisposable
{
    private readonly byte[] _token;

    public CookieAuth(string path)
    {
        Path = path;
        Token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _token = Encoding.ASCII.GetBytes(Token);
        KeystoreDb.CreatePrivateFolder(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = KeystoreDb.FileMode;
        }
        using var stream = new FileStream(path, options);
        stream.Write(_token);
        stream.Flush(flushToDisk: true);
    }

    public string Path { get; }

    public string Token { get; }

    public static string Read(string path) => File.ReadAllText(path).Trim();

    /// <summary>Whether <paramref name="given"/> is the cookie's token, in constant time.</summary>
    public bool Matches(ReadOnlySpan<char> given)
    {
        if (given.Length != _token.Length)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[64];
        return Encoding.ASCII.GetBytes(given, bytes) == _token.Length && CryptographicOperations.FixedTimeEquals(bytes[.._token.Length], _token);
    }

    public void Dispose() => File.Delete(Path);
}
