using System.Security.Cryptography;
using Aitbc.Core;

namespace Aitbc.Node;

/// <summary>
/// A node key on disk: the Ed25519 seed as hex, in a file only its owner may read (0600), the way
/// validator keys are kept beside a node's data. Wallet keys live in the encrypted keystore instead.
/// </summary>
public static class KeyFile
{
    public static Ed25519Key Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Key file '{path}' does not exist.", path);
        }
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
        {
            throw new InvalidOperationException($"Key file '{path}' is readable by others; run: chmod 600 {path}");
        }
        var text = File.ReadAllText(path).Trim();
        if (!Hex.TryDecode(text, 32, out var seed))
        {
            throw new FormatException($"Key file '{path}' must hold a 32-byte seed as 64 lowercase hex characters.");
        }
        try
        {
            return Ed25519Key.FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Creates a new key file (0600); refuses to overwrite one.</summary>
    public static Ed25519Key Create(string path)
    {
        var key = Ed25519Key.Generate();
        var seed = key.ExportSeed();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            writer.Write(Hex.Encode(seed));
            writer.Write('\n');
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
        return key;
    }
}
