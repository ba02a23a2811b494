using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Wallet.Tests.Keystore;

/// <summary>Wallets through the API: create, phrases, passwords, export and import, names, delete.</summary>
public sealed class KeystoreApiTests(WalletHost host) : IClassFixture<WalletHost>
{
    private WalletDaemon Daemon => host.Daemon;

    [Fact]
    public async Task Create_shows_the_phrase_once_and_stores_no_seed_in_the_clear()
    {
        var created = (await Daemon.PostAsync("/v1/wallets", new { name = "ks-new", password = WalletDaemon.Password })).Expect(HttpStatusCode.Created);
        var phrase = created.GetProperty("phrase").GetString()!;
        var address = created.GetProperty("address").GetString()!;
        Assert.Equal(24, phrase.Split(' ').Length);
        Assert.StartsWith("ait1", address, StringComparison.Ordinal);

        var shown = (await Daemon.GetAsync("/v1/wallets/ks-new")).Expect(HttpStatusCode.OK);
        Assert.False(shown.TryGetProperty("phrase", out _));
        Assert.Equal(address, shown.GetProperty("address").GetString());
        var listed = (await Daemon.GetAsync("/v1/wallets")).Expect(HttpStatusCode.OK);
        Assert.Contains(listed.EnumerateArray(), w => w.GetProperty("name").GetString() == "ks-new");

        // Neither the row nor any byte of the keystore's files (the database and its write-ahead log) holds the seed.
        var seed = Mnemonic.ToSeed(phrase, out _)!;
        Assert.DoesNotContain(Convert.ToHexString(seed), Daemon.Row("ks-new"), StringComparison.Ordinal);
        foreach (var path in new[] { Daemon.KeystorePath, Daemon.KeystorePath + "-wal" }.Where(File.Exists))
        {
            using var copy = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var bytes = new MemoryStream();
            await copy.CopyToAsync(bytes);
            Assert.True(bytes.GetBuffer().AsSpan(0, (int)bytes.Length).IndexOf(seed) < 0, $"{path} holds the seed in the clear");
        }
    }

    [Fact]
    public async Task A_wrong_password_is_refused_and_the_keystore_is_unchanged()
    {
        await Daemon.CreateAsync("ks-password");
        var row = Daemon.Row("ks-password");
        var auditBefore = (await Daemon.AuditAsync()).Count;

        var reply = await Daemon.PostAsync("/v1/wallets/ks-password/unlock", new { password = "not the password", seconds = 60 });

        reply.ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        Assert.Equal(row, Daemon.Row("ks-password"));
        Assert.Equal(auditBefore, (await Daemon.AuditAsync()).Count);
        var wallet = (await Daemon.GetAsync("/v1/wallets/ks-password")).Expect(HttpStatusCode.OK);
        Assert.False(wallet.TryGetProperty("unlockedUntil", out _));
        (await Daemon.SignTransferAsync("ks-password", TestKeys.Stranger(), 1, 0)).ExpectProblem((HttpStatusCode)423, "locked");

        // The right one still opens it.
        await Daemon.UnlockAsync("ks-password", 60);
        Assert.Equal(row, Daemon.Row("ks-password"));
    }

    [Fact]
    public async Task Export_then_import_gives_the_same_address_and_a_working_key()
    {
        var (address, _) = await Daemon.CreateAsync("ks-export");
        var export = await Daemon.GetAsync("/v1/wallets/ks-export/export");
        var file = export.Expect(HttpStatusCode.OK);
        Assert.Equal("aitbc-wallet/v1", file.GetProperty("format").GetString());
        Assert.Equal(address.ToString(), file.GetProperty("address").GetString());
        Assert.Equal("argon2id", file.GetProperty("kdf").GetString());

        // Into another keystore: same address, same password opens it, and it signs.
        var other = await host.StartDaemonAsync();
        var imported = (await other.PostAsync("/v1/wallets/import", new { file, password = WalletDaemon.Password, name = "copied" }))
            .Expect(HttpStatusCode.Created);
        Assert.Equal(address.ToString(), imported.GetProperty("address").GetString());
        await other.UnlockAsync("copied", 60);
        var signed = (await other.SignTransferAsync("copied", TestKeys.Stranger(), 1, 0)).Expect(HttpStatusCode.OK);
        Assert.Equal(address.ToString(), signed.GetProperty("from").GetString());

        // Into the same keystore after deleting it (a delete must repeat the name).
        (await Daemon.SendAsync(HttpMethod.Delete, "/v1/wallets/ks-export", "{}")).ExpectProblem(HttpStatusCode.BadRequest, "confirmation_required");
        (await Daemon.SendAsync(HttpMethod.Delete, "/v1/wallets/ks-export?confirm=ks-export", "{}")).Expect(HttpStatusCode.NoContent);
        (await Daemon.GetAsync("/v1/wallets/ks-export")).ExpectProblem(HttpStatusCode.NotFound, "not_found");
        var back = (await Daemon.PostAsync("/v1/wallets/import", new { file, password = WalletDaemon.Password }))
            .Expect(HttpStatusCode.Created);
        Assert.Equal(("ks-export", address.ToString()), (back.GetProperty("name").GetString(), back.GetProperty("address").GetString()));
    }

    [Fact]
    public async Task An_import_with_the_wrong_password_a_damaged_file_or_a_key_already_held_is_refused()
    {
        var (address, _) = await Daemon.CreateAsync("ks-import-src");
        var file = (await Daemon.GetAsync("/v1/wallets/ks-import-src/export")).Expect(HttpStatusCode.OK);
        var other = await host.StartDaemonAsync();

        (await other.PostAsync("/v1/wallets/import", new { file, password = "not the password" })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");

        var damaged = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(file.GetRawText())!;
        var ciphertext = damaged["ciphertext"].GetString()!;
        damaged["ciphertext"] = JsonSerializer.SerializeToElement((ciphertext[0] == '0' ? "1" : "0") + ciphertext[1..]);
        (await other.PostAsync("/v1/wallets/import", new { file = damaged, password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");

        damaged["ciphertext"] = JsonSerializer.SerializeToElement(ciphertext);
        damaged["address"] = JsonSerializer.SerializeToElement(TestKeys.Stranger().ToString());
        (await other.PostAsync("/v1/wallets/import", new { file = damaged, password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");

        damaged["format"] = JsonSerializer.SerializeToElement("something/v9");
        (await other.PostAsync("/v1/wallets/import", new { file = damaged, password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.BadRequest, "invalid_export");
        Assert.Empty((await other.GetAsync("/v1/wallets")).Expect(HttpStatusCode.OK).EnumerateArray());

        (await Daemon.PostAsync("/v1/wallets/import", new { file, password = WalletDaemon.Password, name = "ks-import-dup" })).ExpectProblem(HttpStatusCode.Conflict, "duplicate_key");
        Assert.Equal(address.ToString(), (await Daemon.GetAsync("/v1/wallets/ks-import-src")).Expect(HttpStatusCode.OK).GetProperty("address").GetString());
    }

    [Fact]
    public async Task Import_by_phrase_or_seed_gives_the_same_address()
    {
        var (address, phrase) = await Daemon.CreateAsync("ks-phrase");
        var other = await host.StartDaemonAsync();

        var byPhrase = (await other.PostAsync("/v1/wallets", new { name = "restored", password = "another password", phrase }))
            .Expect(HttpStatusCode.Created);
        Assert.Equal(address.ToString(), byPhrase.GetProperty("address").GetString());
        Assert.False(byPhrase.TryGetProperty("phrase", out _));

        var third = await host.StartDaemonAsync();
        var seed = Convert.ToHexStringLower(Mnemonic.ToSeed(phrase, out _)!);
        var bySeed = (await third.PostAsync("/v1/wallets", new { name = "raw", password = "another password", seed })).Expect(HttpStatusCode.Created);
        Assert.Equal(address.ToString(), bySeed.GetProperty("address").GetString());

        // The all-zero seed's phrase is the published one, and gives the all-zero seed's key.
        var zero = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";
        var zeroWallet = (await third.PostAsync("/v1/wallets", new { name = "zero", password = "another password", phrase = zero })).Expect(HttpStatusCode.Created);
        using var zeroKey = Ed25519Key.FromSeed(new byte[32]);
        Assert.Equal(zeroKey.Address.ToString(), zeroWallet.GetProperty("address").GetString());
    }

    [Fact]
    public async Task A_phrase_with_a_wrong_or_swapped_word_is_refused_with_the_reason()
    {
        var phrase = Mnemonic.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes("ks-bad-phrase"))).Split(' ');
        var wrongWord = phrase.ToArray();
        wrongWord[6] = "bitcoinz";
        var swapped = phrase.ToArray();
        (swapped[2], swapped[3]) = (swapped[3], swapped[2]);
        Assert.NotEqual(phrase[2], phrase[3]);

        var unknown = await Daemon.PostAsync("/v1/wallets", new { name = "ks-bad-1", password = WalletDaemon.Password, phrase = string.Join(' ', wrongWord) });
        var reordered = await Daemon.PostAsync("/v1/wallets", new { name = "ks-bad-2", password = WalletDaemon.Password, phrase = string.Join(' ', swapped) });

        unknown.ExpectProblem(HttpStatusCode.BadRequest, "invalid_phrase");
        Assert.Equal("word 7 ('bitcoinz') is not in the BIP-39 English list", unknown.Detail);
        reordered.ExpectProblem(HttpStatusCode.BadRequest, "invalid_phrase");
        Assert.Contains("out of order", reordered.Detail, StringComparison.Ordinal);
        (await Daemon.GetAsync("/v1/wallets/ks-bad-1")).ExpectProblem(HttpStatusCode.NotFound, "not_found");
        (await Daemon.GetAsync("/v1/wallets/ks-bad-2")).ExpectProblem(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Names_and_passwords_are_checked_and_a_taken_name_is_refused()
    {
        await Daemon.CreateAsync("ks-taken");
        var row = Daemon.Row("ks-taken");

        (await Daemon.PostAsync("/v1/wallets", new { name = "ks-taken", password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Conflict, "name_taken");
        (await Daemon.PostAsync("/v1/wallets", new { name = "has space", password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.BadRequest, "invalid_name");
        (await Daemon.PostAsync("/v1/wallets", new { name = new string('a', 65), password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.BadRequest, "invalid_name");
        (await Daemon.PostAsync("/v1/wallets", new { name = "ks-short", password = "short" })).ExpectProblem(HttpStatusCode.BadRequest, "weak_password");
        (await Daemon.PostAsync("/v1/wallets", new { name = "ks-nopass" })).ExpectProblem(HttpStatusCode.BadRequest, "weak_password");

        Assert.Equal(row, Daemon.Row("ks-taken"));
        Assert.Equal(0, Daemon.Count("SELECT count(*) FROM wallets WHERE name IN ('ks-short', 'ks-nopass')"));
    }

    [Fact]
    public async Task Rename_keeps_the_key_and_locks_the_wallet()
    {
        var address = await Daemon.CreateUnlockedAsync("ks-rename");

        var renamed = (await Daemon.PostAsync("/v1/wallets/ks-rename/rename", new { newName = "ks-renamed" })).Expect(HttpStatusCode.OK);

        Assert.Equal(address.ToString(), renamed.GetProperty("address").GetString());
        Assert.False(renamed.TryGetProperty("unlockedUntil", out _));
        (await Daemon.GetAsync("/v1/wallets/ks-rename")).ExpectProblem(HttpStatusCode.NotFound, "not_found");
        await Daemon.UnlockAsync("ks-renamed", 60);
    }

    [Fact]
    public void The_keystore_file_is_readable_by_its_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix file modes only
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Daemon.KeystorePath));
    }
}
