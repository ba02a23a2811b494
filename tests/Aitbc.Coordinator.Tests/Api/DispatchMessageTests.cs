using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Client;

namespace Aitbc.Coordinator.Tests.Api;

/// <summary>The dispatch connection's messages keep their wire format (docs/protocol.md): <c>type</c> first, camelCase, amounts as strings.</summary>
public sealed class DispatchMessageTests
{
    private static readonly Address Client = TestKeys.Fresh().Address;

    [Fact]
    public void Each_message_is_written_as_the_protocol_says()
    {
        Assert.Equal("""{"type":"accept","jobId":"job-1"}""", Text(new AcceptMessage("job-1")));
        Assert.Equal("""{"type":"reject","jobId":"job-1","reason":"at capacity"}""", Text(new RejectMessage("job-1", "at capacity")));
        Assert.Equal("""{"type":"token","jobId":"job-1","text":"hi "}""", Text(new TokenMessage("job-1", "hi ")));
        using var input = JsonDocument.Parse("""{"prompt":"hello"}""");
        var offer = new JobOffer("job-1", Client, "m", "sha256:00", input.RootElement.Clone(), 16, 9, new Amount(3), new Amount(7), new Amount(1234), 5000, 4000);
        Assert.Equal(
            $$$"""{"type":"job","job":{"id":"job-1","client":"{{{Client}}}","model":"m","modelDigest":"sha256:00","input":{"prompt":"hello"},"maxTokens":16,"inputTokenBound":9,"priceIn":"3","priceOut":"7","amount":"1234","expiresAt":5000,"acceptBy":4000}}""",
            Text(new JobMessage(offer)));
    }

    [Fact]
    public void Messages_are_read_back_with_the_type_anywhere_and_anything_else_is_no_message()
    {
        var token = Assert.IsType<TokenMessage>(DispatchMessage.TryRead("""{"jobId":"job-2","text":"x","type":"token"}"""u8, out var error));
        Assert.Null(error);
        Assert.Equal(new TokenMessage("job-2", "x"), token);
        using var input = JsonDocument.Parse("""{"prompt":"a b"}""");
        var sent = new JobMessage(new JobOffer("job-3", Client, "m", "d", input.RootElement, 4, 2, new Amount(1), new Amount(2), new Amount(3), 9, 8));
        var job = Assert.IsType<JobMessage>(DispatchMessage.TryRead(sent.ToUtf8Bytes(), out _));
        Assert.Equal(["a b"], job.Job.Texts());
        Assert.Equal(new Amount(3), job.Job.Amount);

        Assert.Null(DispatchMessage.TryRead("""{"type":"gossip","jobId":"j"}"""u8, out error));
        Assert.NotNull(error);
        Assert.Null(DispatchMessage.TryRead("""{"jobId":"j"}"""u8, out _));
        Assert.Null(DispatchMessage.TryRead("""{"type":"token","jobId":7,"text":"x"}"""u8, out _));
        Assert.Null(DispatchMessage.TryRead("not json"u8, out _));
        Assert.Null(DispatchMessage.TryRead("null"u8, out error));
        Assert.Equal("the message is null", error);
    }

    private static string Text(DispatchMessage message) => Encoding.UTF8.GetString(message.ToUtf8Bytes());
}
