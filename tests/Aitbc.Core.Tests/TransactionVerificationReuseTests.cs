using System.Text;

namespace Aitbc.Core.Tests;

/// <summary>A parsed transaction reuses its signing bytes for its first check; every later check gives the same answer.</summary>
public sealed class TransactionVerificationReuseTests
{
    [Theory]
    [InlineData("transfer")]
    [InlineData("escrow-lock")]
    [InlineData("escrow-settle")]
    [InlineData("escrow-refund")]
    public void A_valid_parsed_transaction_verifies_every_time(string name)
    {
        Assert.True(Transaction.TryParse(CoreVectors.TxJson(name), out var parsed, out var error), error);

        Assert.True(parsed.VerifySignature());
        Assert.True(parsed.VerifySignature());
        Assert.Equal(CoreVectors.Tx(name).SigningBytes(), parsed.SigningBytes());
    }

    [Fact]
    public void A_tampered_parsed_transaction_fails_every_time()
    {
        var tx = CoreVectors.Tx("transfer");
        var json = Encoding.UTF8.GetString(CoreVectors.TxJson("transfer"));
        var tampered = json.Replace(Hex.Encode(tx.Signature), new string('7', 128), StringComparison.Ordinal);

        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(tampered), out var parsed, out var error), error);

        Assert.False(parsed.VerifySignature());
        Assert.False(parsed.VerifySignature());
    }
}
