namespace Aitbc.Core;

/// <summary>The tag line that starts every signed or hashed message, one per kind of message.</summary>
public static class Domain
{
    public static ReadOnlySpan<byte> Tx => "AITBC/tx/v1\n"u8;
    public static ReadOnlySpan<byte> Block => "AITBC/block/v1\n"u8;
    public static ReadOnlySpan<byte> Vote => "AITBC/vote/v1\n"u8;
    public static ReadOnlySpan<byte> Receipt => "AITBC/receipt/v1\n"u8;
    public static ReadOnlySpan<byte> Http => "AITBC/http/v1\n"u8;
    public static ReadOnlySpan<byte> Genesis => "AITBC/genesis/v1\n"u8;
    public static ReadOnlySpan<byte> State => "AITBC/state/v1\n"u8;
}
