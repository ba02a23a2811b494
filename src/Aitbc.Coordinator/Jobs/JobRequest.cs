using System.Text;
using System.Text.Json;

namespace Aitbc.Coordinator.Jobs;

/// <summary>A client's job request, checked: exactly one of messages or prompt, bounded sizes, a price ceiling and an idempotency key.</summary>
internal sealed record JobRequest(string Model, string InputJson, int MaxTokens, int InputTokenBound, Core.Amount MaxPrice, string IdempotencyKey)
{
    public static (JobRequest? Request, string Error) Parse(byte[] body, int maxTokensLimit)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, "the body must be a JSON object");
            }
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name is not ("model" or "messages" or "prompt" or "maxTokens" or "maxPrice" or "idempotencyKey"))
                {
                    return (null, $"unknown field '{p.Name}'");
                }
            }
            string? S(string n) => root.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var model = S("model");
            if (string.IsNullOrWhiteSpace(model) || model.Length > 256 || !MarketText.IsName(model))
            {
                return (null, "model is required (at most 256 characters, no control characters)");
            }
            if (!root.TryGetProperty("maxTokens", out var mt) || mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out var maxTokens) || maxTokens < 1 || maxTokens > maxTokensLimit)
            {
                return (null, $"maxTokens must be an integer from 1 to {maxTokensLimit}");
            }
            if (!Core.Amount.TryParse(S("maxPrice"), out var maxPrice))
            {
                return (null, "maxPrice must be a decimal string of base units");
            }
            var key = S("idempotencyKey");
            if (string.IsNullOrEmpty(key) || key.Length > 128 || !MarketText.IsName(key))
            {
                return (null, "idempotencyKey is required (1 to 128 characters, no control characters)");
            }
            var hasMessages = root.TryGetProperty("messages", out var messages);
            var prompt = S("prompt");
            if (hasMessages == (prompt is not null))
            {
                return (null, "give exactly one of messages or prompt");
            }
            List<string> texts;
            string inputJson;
            if (hasMessages)
            {
                if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() is 0 or > 256)
                {
                    return (null, "messages must be an array of 1 to 256 {role, content}");
                }
                texts = [];
                foreach (var m in messages.EnumerateArray())
                {
                    if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.GetString() is not ("system" or "user" or "assistant") ||
                        !m.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String || m.EnumerateObject().Count() != 2)
                    {
                        return (null, "each message is {role: system | user | assistant, content: string}");
                    }
                    texts.Add(content.GetString()!);
                }
                inputJson = JsonSerializer.Serialize(new { messages });
            }
            else
            {
                texts = [prompt!];
                inputJson = JsonSerializer.Serialize(new { prompt });
            }
            if (Encoding.UTF8.GetByteCount(inputJson) > JobsApi.MaxInputBytes)
            {
                return (null, $"the input is over {JobsApi.MaxInputBytes} bytes");
            }
            return (new JobRequest(model, inputJson, maxTokens, Core.Pricing.InputTokenBound(texts), maxPrice, key), "");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return (null, $"malformed JSON: {e.Message}");
        }
    }
}
