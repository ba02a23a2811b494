using System.Net;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 16 (docs/security.md): the keystore was chmod'ed 0600 only after SQLite had created it and its <c>-wal</c>/<c>-shm</c> files
/// with the process's umask (0644 under the usual 022), and the folder was created 0755. Now the folder is created
/// 0700 and the file 0600 before SQLite opens it (SQLite gives its companions the database file's mode).
/// The test process runs with the usual umask, so a file created without an explicit mode would show here.
/// </summary>
public sealed class FileModeTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Signs, audits and creates a token, so that every file the daemon makes exists.</summary>
    private static async Task ExerciseAsync(WalletDaemon daemon)
    {
        await daemon.CreateUnlockedAsync("modes");
        (await daemon.SignTransferAsync("modes", TestKeys.Stranger(), 1, nonce: 0)).Expect(HttpStatusCode.OK);
        (await daemon.PostAsync("/v1/wallets/modes/tokens", new { password = WalletDaemon.Password })).Expect(HttpStatusCode.Created);
    }

    /// <summary>
    /// Every file in the folder is owner-only. SQLite deletes <c>-wal</c> and <c>-shm</c> when the last connection to the
    /// keystore closes, and other test classes in this process clear the connection pools at any moment, so a companion
    /// may be absent, or vanish between the listing and its check; the database and the cookie may not.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void AssertOwnerOnly(string folder)
    {
        Assert.Equal(OwnerFolder, File.GetUnixFileMode(folder));
        var files = Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Contains("keystore.db", files);
        Assert.Contains("wallet.cookie", files);
        Assert.Empty(files.Except(["keystore.db", "keystore.db-shm", "keystore.db-wal", "wallet.cookie"]));
        foreach (var file in files)
        {
            UnixFileMode mode;
            try
            {
                mode = File.GetUnixFileMode(Path.Combine(folder, file!));
            }
            catch (FileNotFoundException) when (file!.EndsWith("-shm", StringComparison.Ordinal) || file.EndsWith("-wal", StringComparison.Ordinal))
            {
                continue;
            }
            Assert.True(mode == OwnerFile, $"{file} is {mode}");
        }
    }

    [Fact]
    public async Task Attack16_TheKeystoreFolderItsSqliteFilesAndTheCookieAreCreatedOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var daemon = await host.StartDaemonAsync();
        await ExerciseAsync(daemon);

        AssertOwnerOnly(Path.GetDirectoryName(daemon.KeystorePath)!);
    }

    [Fact]
    public async Task Attack16_KeystoreFilesLeftReadableByAnOlderBuildAreTightenedAtStart()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        using var dir = new TempDir();
        var folder = dir.Sub("wallet");
        await using (var first = await WalletDaemon.StartAsync(folder, host.Node.RpcUri))
        {
            await ExerciseAsync(first);
            foreach (var file in Directory.GetFiles(folder))
            {
                File.SetUnixFileMode(file, OwnerFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.WriteAllBytes(Path.Combine(folder, "keystore.db-wal"), []);
        File.SetUnixFileMode(Path.Combine(folder, "keystore.db-wal"), OwnerFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await using var again = await WalletDaemon.StartAsync(folder, host.Node.RpcUri);
        (await again.GetAsync("/v1/wallets/modes")).Expect(HttpStatusCode.OK);

        AssertOwnerOnly(folder);
    }
}
