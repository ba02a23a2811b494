namespace Aitbc.Coordinator;

/// <summary>
/// Text the market stores. Names (models, digests, idempotency keys) hold no control characters; free text
/// (labels, failure reasons) holds no NUL, which PostgreSQL's text type refuses.
/// </summary>
internal static class MarketText
{
    public static bool IsName(string text) => !text.AsSpan().ContainsAnyInRange('\0', '\u001f') && !text.Contains('\u007f', StringComparison.Ordinal);

    public static string Storable(string text) => text.Replace('\0', '\uFFFD');
}
