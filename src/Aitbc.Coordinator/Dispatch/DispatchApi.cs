using System.Net.WebSockets;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Coordinator.Auth;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Dispatch;

/// <summary>
/// <c>/v1/providers/connect</c>: the provider's dispatch connection (a WebSocket it opens, signed
/// like any request). The messages are <see cref="DispatchMessage"/>s: the coordinator sends <c>{"type":"job",…}</c>;
/// the provider answers <c>{"type":"accept","jobId"}</c> or <c>{"type":"reject","jobId","reason"}</c>, and streams
/// <c>{"type":"token","jobId","text"}</c>. Results and failures are posted over HTTP.
/// </summary>
internal static class DispatchApi
{
    public static RouteGroupBuilder MapDispatchApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/providers/connect", ConnectAsync).RequireSignature().WithName("ProviderConnect")
            .WithSummary("WebSocket: the provider's dispatch connection.");
        return v1;
    }

    private static async Task<IResult> ConnectAsync(HttpContext http, IServiceScopeFactory scopes, ProviderConnections connections, Dispatcher dispatcher,
        JobEvents events)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return ServiceDefaults.Problems.Of(ServiceDefaults.CommonErrors.MalformedRequest, "this endpoint speaks WebSocket only");
        }
        var address = SignedRequests.Of(http).Signer.ToString();
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            if (!await db.Providers.AnyAsync(p => p.Address == address && p.Status != ProviderStatuses.Deregistered, http.RequestAborted))
            {
                return ServiceDefaults.Problems.Of(MarketErrors.UnknownProvider, $"{address} is not registered: register first");
            }
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var connection = connections.Add(address);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var pump = PumpAsync(socket, connection, cts.Token);
        try
        {
            await dispatcher.DispatchWaitingAsync([address], cts.Token);
            var buffer = new byte[64 * 1024];
            var streaming = new HashSet<string>(StringComparer.Ordinal);
            while (socket.State == WebSocketState.Open)
            {
                var (count, closed, tooLarge) = await WebSocketMessages.ReceiveAsync(socket, buffer, cts.Token);
                if (closed || tooLarge)
                {
                    break;
                }
                await HandleAsync(address, buffer.AsMemory(0, count), streaming, scopes, events, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The provider went away; its dispatched jobs fail at their accept deadline.
        }
        finally
        {
            connections.Remove(connection);
            await cts.CancelAsync();
            try
            {
                await pump;
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
        }
        return Results.Empty;
    }

    private static async Task PumpAsync(WebSocket socket, ProviderConnection c, CancellationToken ct)
    {
        await foreach (var message in c.Outbox.Reader.ReadAllAsync(ct))
        {
            await socket.SendAsync(message, WebSocketMessageType.Text, true, ct);
        }
    }

    /// <summary>One message from the provider; <paramref name="streaming"/> holds the jobs whose first token was recorded.</summary>
    private static async Task HandleAsync(string provider, ReadOnlyMemory<byte> message, HashSet<string> streaming, IServiceScopeFactory scopes, JobEvents events, CancellationToken ct)
    {
        // Not ours to guess at when it is no message of the provider's: the job's deadline decides.
        (string? Type, string? JobId, string? Text, string? Reason) read = DispatchMessage.TryRead(message.Span, out _) switch
        {
            AcceptMessage m => ("accept", m.JobId, null, null),
            RejectMessage m => ("reject", m.JobId, null, m.Reason),
            TokenMessage m => ("token", m.JobId, m.Text, null),
            _ => (null, null, null, null),
        };
        var (type, jobId, text, reason) = read;
        if (jobId is null)
        {
            return;
        }
        if (type == "token" && text is not null && streaming.Contains(jobId))
        {
            events.Token(jobId, text);
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var lifecycle = scope.ServiceProvider.GetRequiredService<JobLifecycle>();
        switch (type)
        {
            case "accept":
                await lifecycle.AcceptAsync(jobId, provider, ct);
                break;
            case "reject":
                await lifecycle.RejectAsync(jobId, provider, reason, ct);
                break;
            case "token" when text is not null:
                // Only the job's own provider streams into it, and only while it runs.
                if (!await db.Jobs.AnyAsync(j => j.Id == jobId && j.Provider == provider && j.State == JobStates.Running, ct))
                {
                    break;
                }
                streaming.Add(jobId);
                await lifecycle.FirstTokenAsync(jobId, provider, ct);
                events.Token(jobId, text);
                break;
            default:
                break;
        }
    }
}
