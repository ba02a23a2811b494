using System.Text.Json;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// A listener on <c>GET /v1/jobs/{id}/events</c> (server-sent events), reading in the background: every
/// event in order, until the stream ends after a final state.
/// </summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(string Name, JsonElement Data)> _events = [];
    private readonly Task _reading;

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reading = Task.Run(() => ReadAsync(reader, _stop.Token));
    }

    /// <summary>Opens the stream and returns once its first event (the current state) is in, so later events reach it.</summary>
    /// <remarks>The stream is for the job's client or provider: <paramref name="http"/> signs (a <see cref="MarketAgent"/>'s), or <paramref name="pathAndQuery"/> carries the signature.</remarks>
    public static Task<SseStream> OpenAsync(HttpClient http, string jobId) => OpenPathAsync(http, $"/v1/jobs/{jobId}/events");

    public static async Task<SseStream> OpenPathAsync(HttpClient http, string pathAndQuery)
    {
        var response = await http.GetAsync(new Uri(pathAndQuery, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.Dispose();
            Assert.Fail($"the event stream answered {(int)response.StatusCode}: {text}");
        }
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var stream = new SseStream(response, reader);
        await MarketFixture.Eventually(() => Task.FromResult(stream.Events.Count > 0), "the stream's first event");
        return stream;
    }

    public IReadOnlyList<(string Name, JsonElement Data)> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<string> States => [.. Events.Where(e => e.Name == "state").Select(e => e.Data.GetProperty("state").GetString()!)];

    public string Text => string.Concat(Events.Where(e => e.Name == "token").Select(e => e.Data.GetProperty("text").GetString()));

    /// <summary>Waits for the server to end the stream (it does after a final state).</summary>
    public async Task<IReadOnlyList<(string Name, JsonElement Data)>> ReadToEndAsync()
    {
        await _reading.WaitAsync(TimeSpan.FromSeconds(30));
        return Events;
    }

    private async Task ReadAsync(StreamReader reader, CancellationToken ct)
    {
        string? name = null;
        try
        {
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    using var doc = JsonDocument.Parse(line["data: ".Length..]);
                    lock (_events)
                    {
                        _events.Add((name ?? "message", doc.RootElement.Clone()));
                    }
                }
                else if (line.Length == 0)
                {
                    name = null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            // Closed by the test.
        }
        finally
        {
            reader.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response.Dispose();
        try
        {
            await _reading;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // Closed.
        }
        _stop.Dispose();
    }
}
