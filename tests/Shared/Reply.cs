using System.Net;
using System.Text.Json;

namespace Aitbc.Testing;

/// <summary>An HTTP answer: status, body text and (when the body is JSON) the parsed body (linked into the test projects that call HTTP APIs).</summary>
public sealed record Reply(HttpStatusCode Status, string Text, JsonElement Json)
{
    /// <summary>The problem details' stable <c>code</c>, or null when the body has none.</summary>
    public string? Code => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("code", out var c) ? c.GetString() : null;

    public string? Detail => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("detail", out var d) ? d.GetString() : null;

    public static async Task<Reply> FromAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var json = default(JsonElement);
        if (text.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                json = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Not JSON: the test looks at Text.
            }
        }
        return new Reply(response.StatusCode, text, json);
    }

    public JsonElement Expect(HttpStatusCode expected)
    {
        Assert.True(Status == expected, $"expected {(int)expected}, got {(int)Status}: {Text}");
        return Json;
    }

    /// <summary>Asserts a problem details answer (RFC 9457) with this status and code.</summary>
    public Reply ExpectProblem(HttpStatusCode status, string code)
    {
        Assert.True(Status == status && Code == code, $"expected {(int)status} {code}, got {(int)Status}: {Text}");
        Assert.False(string.IsNullOrEmpty(Json.GetProperty("title").GetString()), "a problem has a title");
        return this;
    }

    public string Str(string name) => Json.GetProperty(name).GetString()!;
}
