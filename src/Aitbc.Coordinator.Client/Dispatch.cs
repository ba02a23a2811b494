using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;

namespace Aitbc.Coordinator.Client;

/// <summary>
/// A message on the provider's dispatch connection (<c>/v1/providers/connect</c>), told apart by <c>type</c>: the coordinator
/// sends <see cref="JobMessage"/>; the provider answers <see cref="AcceptMessage"/> or <see cref="RejectMessage"/> and streams
/// <see cref="TokenMessage"/>. Results and failures go over HTTP.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(JobMessage), "job")]
[JsonDerivedType(typeof(AcceptMessage), "accept")]
[JsonDerivedType(typeof(RejectMessage), "reject")]
[JsonDerivedType(typeof(TokenMessage), "token")]
public abstract record DispatchMessage
{
    public const string Path = "/v1/providers/connect";

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(this, CoordinatorJson.Default.DispatchMessage);

    /// <summary>The message, or null with the reason when it is not one (not JSON, an unknown type, a field of the wrong kind).</summary>
    public static DispatchMessage? TryRead(ReadOnlySpan<byte> utf8, out string? error)
    {
        try
        {
            return Checked(JsonSerializer.Deserialize(utf8, CoordinatorJson.Default.DispatchMessage), out error);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <inheritdoc cref="TryRead(ReadOnlySpan{byte}, out string?)"/>
    public static DispatchMessage? TryRead(JsonElement json, out string? error)
    {
        try
        {
            return Checked(json.Deserialize(CoordinatorJson.Default.DispatchMessage), out error);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            error = e.Message;
            return null;
        }
    }

    private static DispatchMessage? Checked(DispatchMessage? message, out string? error)
    {
        error = message is null ? "the message is null" : null;
        return message;
    }
}

/// <summary>A funded job for the provider: what to run, at the prices it was matched at, paid by which escrow, to accept by when.</summary>
public sealed record JobMessage(JobOffer Job) : DispatchMessage;

/// <summary>The provider takes the job (its escrow checked on the chain).</summary>
public sealed record AcceptMessage(string JobId) : DispatchMessage;

/// <summary>The provider declines the job, saying why.</summary>
public sealed record RejectMessage(string JobId, string? Reason) : DispatchMessage;

/// <summary>A streamed piece of the job's output.</summary>
public sealed record TokenMessage(string JobId, string Text) : DispatchMessage;

/// <summary>The job as the provider receives it: <see cref="Input"/> is <c>{prompt}</c> or <c>{messages}</c>.</summary>
public sealed record JobOffer(string Id, Address Client, string Model, string ModelDigest, JsonElement Input, int MaxTokens, int InputTokenBound,
    Amount PriceIn, Amount PriceOut, Amount Amount, long ExpiresAt, long AcceptBy)
{
    /// <summary>The input's texts: the prompt, or each message's content.</summary>
    public IReadOnlyList<string> Texts() =>
        Input.ValueKind == JsonValueKind.Object && Input.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String
            ? [p.GetString()!]
            : JsonSerializer.Deserialize(Input, CoordinatorJson.Default.JobInput)?.Messages?.Select(m => m.Content).ToList() ?? [];
}

/// <summary>The input of a job: <c>{prompt}</c> or <c>{messages}</c>.</summary>
public sealed record JobInput(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Prompt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ChatMessage>? Messages);
