using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.ServiceDefaults;

namespace Aitbc.Bench.Coordinator;

/// <summary>
/// A provider as the coordinator sees one, reduced to what the benchmark needs (the protocol of the tests'
/// FakeProvider): a signed register and heartbeats over HTTP, and the signed WebSocket dial-out
/// (<c>/v1/providers/connect</c>) on which it takes jobs, notes when each arrived, and accepts it. It owns its key.
/// </summary>
internal sealed class BenchProvider : IAsyncDisposable
{
    public const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private readonly Ed25519Key _key;
    private readonly Uri _coordinator;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private ClientWebSocket? _socket;
    private Task? _receiving;
    private Task? _heartbeats;

    public BenchProvider(Ed25519Key key, Uri coordinator, string model, Amount priceIn, Amount priceOut, int concurrency)
    {
        _key = key;
        _coordinator = coordinator;
        Model = model;
        PriceIn = priceIn;
        PriceOut = priceOut;
        Concurrency = concurrency;
        _http = new HttpClient(new SigningHandler(key)) { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Address Address => _key.Address;

    public string Model { get; }

    public Amount PriceIn { get; }

    public Amount PriceOut { get; }

    public int Concurrency { get; }

    /// <summary>Each job id received over the dispatch connection, with the <see cref="Stopwatch"/> timestamp of its arrival.</summary>
    public ConcurrentDictionary<string, long> Received { get; } = new(StringComparer.Ordinal);

    /// <summary>Registers its offer, heartbeats every few seconds, and dials in for work.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var register = JsonSerializer.Serialize(new RegisterProviderRequest([new ModelOffer(Model, Digest, PriceIn, PriceOut)],
            Concurrency, "bench-1", "none"), CoordinatorJson.Default.RegisterProviderRequest);
        await PostAsync("/v1/providers/register", register, ct);
        _heartbeats = Task.Run(() => HeartbeatsAsync(_stop.Token), CancellationToken.None);

        var socket = new ClientWebSocket();
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        socket.Options.SetRequestHeader(HttpSignature.AddressHeader, Address.ToString());
        socket.Options.SetRequestHeader(HttpSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        socket.Options.SetRequestHeader(HttpSignature.SignatureHeader, HttpSignature.Sign(_key, "GET", DispatchMessage.Path, timestamp, []));
        await socket.ConnectAsync(new UriBuilder(new Uri(_coordinator, "/v1/providers/connect")) { Scheme = "ws" }.Uri, ct);
        _socket = socket;
        _receiving = Task.Run(() => ReceiveAsync(socket, _stop.Token), CancellationToken.None);
    }

    private async Task PostAsync(string path, string json, CancellationToken ct)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(path, UriKind.Relative), content, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"provider {Address}: {path} answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
    }

    private async Task HeartbeatsAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(3), ct);
                await PostAsync("/v1/providers/heartbeat", "{}", ct);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private async Task ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var (count, closed, _) = await WebSocketMessages.ReceiveAsync(socket, buffer, ct);
                // Timed as soon as the message is whole, before any parsing.
                var arrived = Stopwatch.GetTimestamp();
                if (closed)
                {
                    return;
                }
                if (DispatchMessage.TryRead(buffer.AsSpan(0, count), out _) is not JobMessage { Job.Id: var id })
                {
                    continue;
                }
                Received.TryAdd(id, arrived);
                await socket.SendAsync(new AcceptMessage(id).ToUtf8Bytes(), WebSocketMessageType.Text, true, ct);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The connection ended.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket is { } socket)
        {
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            catch (Exception e) when (e is WebSocketException or InvalidOperationException)
            {
                // Already gone.
            }
        }
        await _stop.CancelAsync();
        if (_receiving is not null)
        {
            await _receiving;
        }
        if (_heartbeats is not null)
        {
            await _heartbeats;
        }
        _socket?.Dispose();
        _http.Dispose();
        _stop.Dispose();
        _key.Dispose();
    }
}
