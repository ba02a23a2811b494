using System.Text.Json;
using Aitbc.Core;

namespace Aitbc.Provider.Jobs;

/// <summary>
/// A job to run, from the coordinator's dispatch or from an agent directly: what to run, at this
/// provider's own prices, with the input bound and the quote computed here from the input itself
/// (never taken from a message), paid by which escrow.
/// </summary>
internal sealed record JobSpec(
    string JobId, Address Client, string Model, IReadOnlyList<(string Role, string Content)>? Messages, string? Prompt,
    int MaxTokens, Amount PriceIn, Amount PriceOut, int InputBound, Amount Quote)
{
    /// <summary>
    /// Prices a job at this provider's prices: the quote covers <see cref="Pricing.InputTokenBound"/> of
    /// the input's texts (the coordinator's own bound) and <paramref name="maxTokens"/> of output; null
    /// when that does not fit in 64 bits.
    /// </summary>
    public static JobSpec? Priced(string jobId, Address client, string model, IReadOnlyList<(string, string)>? messages, string? prompt, int maxTokens,
        ProviderOptions options)
    {
        var priceIn = new Amount((ulong)options.PriceIn);
        var priceOut = new Amount((ulong)options.PriceOut);
        var bound = Pricing.InputTokenBound(prompt is not null ? [prompt] : messages!.Select(m => m.Item2));
        return Pricing.Cost(bound, maxTokens, priceIn, priceOut) is { } quote
            ? new JobSpec(jobId, client, model, messages, prompt, maxTokens, priceIn, priceOut, bound, quote)
            : null;
    }

    /// <summary>Reads <c>{messages: [{role, content}]}</c> or <c>{prompt}</c>; null with the reason otherwise.</summary>
    public static (IReadOnlyList<(string, string)>? Messages, string? Prompt, string? Error) ReadInput(JsonElement input)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            return (null, null, "the input must be {messages} or {prompt}");
        }
        if (input.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
        {
            return (null, p.GetString(), null);
        }
        if (input.TryGetProperty("messages", out var m) && m.ValueKind == JsonValueKind.Array && m.GetArrayLength() > 0)
        {
            var list = new List<(string, string)>();
            foreach (var e in m.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("role", out var r) || r.GetString() is not ("system" or "user" or "assistant") ||
                    !e.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String)
                {
                    return (null, null, "each message is {role: system | user | assistant, content}");
                }
                list.Add((r.GetString()!, c.GetString()!));
            }
            return (list, null, null);
        }
        return (null, null, "the input must be {messages} or {prompt}");
    }

    public IEnumerable<string> Texts => Prompt is not null ? [Prompt] : Messages!.Select(m => m.Content);
}
