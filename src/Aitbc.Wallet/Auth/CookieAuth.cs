using System.Security.Cryptography;
using System.Text;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Wallet.Auth;

/// <summary>
/// The daemon's full-access token, as bitcoind's cookie: a random token, written to a file only the owner may read
/// (0600, in a folder created 0700) beside the keystore once the daemon's port is bound (<see cref="Write"/>);
/// requests carry it as <c>Authorization: Bearer &lt;token&gt;</c> (checked by <see cref="ApiGuard"/>). When the daemon
/// stops, the file is removed only if it still holds this daemon's token: a daemon started by mistake, which fails to
/// bind, never touched the running one's cookie, and one that stops never deletes a cookie it did not write.
/// </summary>
internal sealed class CookieAuth : IDisposable
{
    private readonly byte[] _token;
    private bool _written;

    public CookieAuth(string path)
    {
        Path = path;
        Token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _token = Encoding.ASCII.GetBytes(Token);
    }

    public string Path { get; }

    public string Token { get; }

    public static string Read(string path) => File.ReadAllText(path).Trim();

    /// <summary>Writes the token to the cookie file (replacing a stale one): called once the listener is bound.</summary>
    public void Write()
    {
        KeystoreDb.CreatePrivateFolder(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        File.Delete(Path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = KeystoreDb.FileMode;
        }
        using (var stream = new FileStream(Path, options))
        {
            stream.Write(_token);
            stream.Flush(flushToDisk: true);
        }
        _written = true;
    }

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

    /// <summary>Removes the cookie file if this daemon wrote it and it still holds this daemon's token.</summary>
    public void Dispose()
    {
        if (!_written)
        {
            return;
        }
        _written = false;
        try
        {
            if (File.Exists(Path) && Matches(Read(Path)))
            {
                File.Delete(Path);
            }
        }
        catch (IOException)
        {
            // Another daemon replaced or removed it meanwhile: not ours to delete.
        }
    }
}
