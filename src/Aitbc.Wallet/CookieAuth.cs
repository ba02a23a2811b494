using System.Security.Cryptography;
using System.Text;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Http;

namespace Aitbc.Wallet;

/// <summary>
/// Token authentication as bitcoind's cookie: a random token is written at start to a file only the
/// owner may read (0600) beside the keystore; every API request carries it as
/// <c>Authorization: Bearer &lt;token&gt;</c>. The file is removed when the daemon stops.
/// </summary>
internal sealed class CookieAuth : IDisposable
{
    private readonly byte[] _token;

    public CookieAuth(string path)
    {
        Path = path;
        Token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _token = Encoding.ASCII.GetBytes(Token);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var stream = new FileStream(path, options);
        stream.Write(_token);
        stream.Flush(flushToDisk: true);
    }

    public string Path { get; }

    public string Token { get; }

    public static string Read(string path) => File.ReadAllText(path).Trim();

    public bool IsAuthorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }
        var given = Encoding.ASCII.GetBytes(header["Bearer ".Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _token);
    }

    public async Task Middleware(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal) && !IsAuthorized(context.Request))
        {
            await Problems.Of(CommonErrors.Unauthorized, $"send the token from the cookie file {Path} as 'Authorization: Bearer <token>'").ExecuteAsync(context);
            return;
        }
        await next(context);
    }

    public void Dispose() => File.Delete(Path);
}
