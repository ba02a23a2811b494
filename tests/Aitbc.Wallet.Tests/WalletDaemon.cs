using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Aitbc.Wallet.Auth;
using Microsoft.Data.Sqlite;

namespace Aitbc.Wallet.Tests;

/// <summary>
/// A real wallet daemon (<see cref="WalletServer"/>) with its own keystore in a folder, and an HTTP client that
/// carries the token from its cookie file. The KDF is cheap here (1 pass, 8 MiB) so unlocks take milliseconds.
/// </summary>
public sealed class WalletDaemon : IAsyncDisposable
{
    public const string Password = "correct horse battery staple";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private int _disposed;

    private WalletDaemon(WalletServer server, HttpClient http, string keystore)
    {
        Server = server;
        Http = http;
        KeystorePath = keystore;
    }

    public WalletServer Server { get; }

    /// <summary>Authorized with the cookie's token.</summary>
    public HttpClient Http { get; }

    public string KeystorePath { get; }

    public static async Task<WalletDaemon> StartAsync(string dir, Uri node, Action<WalletOptions>? configure = null)
    {
        var options = Options(dir, node);
        configure?.Invoke(options);
        var server = await WalletServer.StartAsync(options, logging: _ => { });
        var http = new HttpClient { BaseAddress = server.Uri, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", CookieAuth.Read(server.CookiePath));
        return new WalletDaemon(server, http, options.Keystore);
    }

    /// <summary>The options the tests' daemons start with: a keystore in <paramref name="dir"/>, a free port, a cheap KDF.</summary>
    public static WalletOptions Options(string dir, Uri node) => new()
    {
        Keystore = Path.Combine(dir, "keystore.db"),
        Port = 0,
        Node = node.ToString(),
        KdfPasses = 1,
        KdfMemoryKiB = 8192,
    };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public async Task<Reply> GetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return await Reply.FromAsync(response);
    }

    /// <summary>POSTs <paramref name="body"/> serialized as JSON (camelCase), or sent as is when it is a string.</summary>
    public Task<Reply> PostAsync(string path, object body) => SendAsync(HttpMethod.Post, path, body);

    public Task<Reply> PutAsync(string path, object body) => SendAsync(HttpMethod.Put, path, body);

    public async Task<Reply> SendAsync(HttpMethod method, string path, object body, string contentType = "application/json")
    {
        var text = body as string ?? JsonSerializer.Serialize(body, Json);
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (method != HttpMethod.Get)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        using var response = await Http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    /// <summary>Creates a wallet; answers its address and the recovery phrase shown once.</summary>
    public async Task<(Address Address, string Phrase)> CreateAsync(string name, string password = Password)
    {
        var json = (await PostAsync("/v1/wallets", new { name, password })).Expect(HttpStatusCode.Created);
        return (Address.Parse(json.GetProperty("address").GetString()!), json.GetProperty("phrase").GetString()!);
    }

    public async Task<DateTimeOffset> UnlockAsync(string name, int? seconds = null, string password = Password)
    {
        var reply = await PostAsync($"/v1/wallets/{name}/unlock", seconds is null ? new { password } : new { password, seconds });
        return reply.Expect(HttpStatusCode.OK).GetProperty("unlockedUntil").GetDateTimeOffset();
    }

    /// <summary>Creates and unlocks a wallet (for 10 minutes).</summary>
    public async Task<Address> CreateUnlockedAsync(string name)
    {
        var (address, _) = await CreateAsync(name);
        await UnlockAsync(name, 600);
        return address;
    }

    public async Task SetPolicyAsync(string name, object policy) =>
        (await PutAsync($"/v1/wallets/{name}/policy", policy)).Expect(HttpStatusCode.OK);

    /// <summary>A transfer through <c>/send</c>; the caller checks the reply.</summary>
    public Task<Reply> TransferAsync(string name, Address to, ulong amount, bool wait = true, ulong? fee = null) =>
        fee is { } f
            ? PostAsync($"/v1/wallets/{name}/send", new { to = to.ToString(), amount = Str(amount), fee = Str(f), wait })
            : PostAsync($"/v1/wallets/{name}/send", new { to = to.ToString(), amount = Str(amount), wait });

    /// <summary>Signs a transfer through <c>/sign</c> with an explicit nonce and fee (no node involved).</summary>
    public Task<Reply> SignTransferAsync(string name, Address to, ulong amount, long nonce, ulong fee = WalletHost.Fee) =>
        PostAsync($"/v1/wallets/{name}/sign", new { type = "transfer", body = new { to = to.ToString(), amount = Str(amount) }, nonce, fee = Str(fee) });

    /// <summary>Every audit entry (of one wallet, or all), oldest first.</summary>
    public async Task<IReadOnlyList<JsonElement>> AuditAsync(string? wallet = null)
    {
        var json = (await GetAsync(wallet is null ? "/v1/audit?limit=1000" : $"/v1/audit?limit=1000&wallet={wallet}")).Expect(HttpStatusCode.OK);
        return [.. json.GetProperty("entries").EnumerateArray()];
    }

    public async Task<JsonElement> VerifyAuditAsync() => (await GetAsync("/v1/audit/verify")).Expect(HttpStatusCode.OK);

    public static string Str(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    // The keystore file itself, for the tests that look at (or damage) what is stored.

    public SqliteConnection OpenFile()
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = KeystorePath, Pooling = false }.ToString());
        c.Open();
        return c;
    }

    /// <summary>A wallet's whole row, every column as stored, for before/after comparisons.</summary>
    public string Row(string name)
    {
        using var c = OpenFile();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name, address, kdf_passes, kdf_memory_kib, hex(salt), hex(nonce), hex(ciphertext), policy, policy_mac, created_at FROM wallets WHERE name = $name";
        cmd.Parameters.AddWithValue("$name", name);
        using var r = cmd.ExecuteReader();
        Assert.True(r.Read(), $"no row for wallet '{name}'");
        return string.Join('|', Enumerable.Range(0, r.FieldCount).Select(i => Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)));
    }

    public int Execute(string sql, params (string Name, object Value)[] parameters)
    {
        using var c = OpenFile();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters)
        {
            cmd.Parameters.AddWithValue(n, v);
        }
        return cmd.ExecuteNonQuery();
    }

    public long Count(string sql)
    {
        using var c = OpenFile();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }
}
