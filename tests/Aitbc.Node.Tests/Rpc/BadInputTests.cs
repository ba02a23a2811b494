using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Aitbc.Node.Tests.Rpc;

/// <summary>
/// Every malformed or refused request gets a 4xx problem (application/problem+json with a "code"),
/// and changes nothing: same head, same state, same balances, empty mempool.
/// </summary>
public sealed class BadInputTests(TestNode node) : IClassFixture<TestNode>
{
    private static readonly Ed25519Key Sender = TestKeys.Named("rpc-user-0");

    private static string Json(Transaction tx) => Encoding.UTF8.GetString(tx.ToJsonBytes());

    private static Transaction ValidTransfer() => TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1 * TestNode.Ait), Sender);

    /// <summary>A valid transfer's JSON with one change applied.</summary>
    private static string Mutated(Action<JsonObject> change)
    {
        var json = JsonNode.Parse(ValidTransfer().ToJsonBytes())!.AsObject();
        change(json);
        return json.ToJsonString();
    }

    private async Task<string> StateAsync()
    {
        var (height, hash, mempool) = await node.HeadAsync();
        var sender = await node.AccountAsync(Sender.Address);
        var faucet = await node.AccountAsync(TestNode.Faucet.Address);
        var bob = await node.AccountAsync(TestKeys.Bob.Address);
        return $"height {height} head {hash} mempool {mempool} sender {sender} faucet {faucet} bob {bob}";
    }

    /// <summary>Sends the request and asserts the problem and that nothing changed.</summary>
    private async Task<JsonNode> AssertProblemAsync(Func<Task<HttpResponseMessage>> send, HttpStatusCode status, string code)
    {
        var before = await StateAsync();
        Assert.Contains("mempool 0 ", before, StringComparison.Ordinal);

        using var response = await send();
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal(code, problem["code"]?.GetValue<string>());
        Assert.Equal((int)status, problem["status"]?.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(problem["detail"]?.GetValue<string>()));
        Assert.Equal(before, await StateAsync());
        return problem;
    }

    private Task<JsonNode> PostAsync(string path, string body, HttpStatusCode status, string code, string contentType = "application/json") =>
        AssertProblemAsync(() => node.PostJsonAsync(path, body, contentType), status, code);

    private Task<JsonNode> GetAsync(string path, HttpStatusCode status, string code) =>
        AssertProblemAsync(() => node.Http.GetAsync(new Uri(path, UriKind.Relative)), status, code);

    [Fact]
    public async Task The_transfer_the_cases_start_from_is_admitted_by_a_copy_of_the_node()
    {
        // Otherwise a mutated case could be refused for a reason other than its mutation; admitted here on a copy, not on the node.
        using var copy = TestChain.Open(node.Genesis, new Node.Storage.MemoryStore());
        var (admitted, rejection) = NodeParts.For(copy).Admission.Admit(Encoding.UTF8.GetBytes(Mutated(_ => { })));

        Assert.Null(rejection);
        Assert.Equal(ValidTransfer().Id, admitted!.Id);
        Assert.Equal((TestNode.UserFunds, 0L), await node.AccountAsync(Sender.Address));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("not json at all")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("\"a string\"")]
    public async Task Malformed_json_is_refused(string body)
    {
        await PostAsync("/v1/txs", body, HttpStatusCode.BadRequest, "invalid_transaction");
    }

    [Fact]
    public async Task Json_with_trailing_data_is_refused()
    {
        await PostAsync("/v1/txs", Json(ValidTransfer()) + "{}", HttpStatusCode.BadRequest, "invalid_transaction");
    }

    [Fact]
    public async Task An_empty_body_is_refused()
    {
        await PostAsync("/v1/txs", "", HttpStatusCode.BadRequest, "malformed_request");
    }

    [Fact]
    public async Task A_nonce_as_a_string_is_refused()
    {
        var problem = await PostAsync("/v1/txs", Mutated(t => t["nonce"] = "0"), HttpStatusCode.BadRequest, "invalid_transaction");

        Assert.Contains("nonce", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_amount_as_a_number_is_refused()
    {
        var problem = await PostAsync("/v1/txs", Mutated(t => t["body"]!["amount"] = 1_000_000_000), HttpStatusCode.BadRequest, "invalid_transaction");

        Assert.Equal("body.amount must be a string", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("fee", "1e3")]
    [InlineData("fee", "-1000")]
    [InlineData("fee", "\"01000\"")]
    [InlineData("fee", "\"1000.0\"")]
    [InlineData("fee", "1000")]
    [InlineData("fee", "18446744073709551616")]
    [InlineData("nonce", "-1")]
    [InlineData("nonce", "1.5")]
    [InlineData("nonce", "9007199254740992")]
    [InlineData("chainId", "\"AITBC-RPC-TEST\"")]
    [InlineData("signature", "\"ABCD\"")]
    [InlineData("extra", "1")]
    public async Task A_field_of_the_wrong_type_or_form_is_refused(string field, string json)
    {
        await PostAsync("/v1/txs", Mutated(t => t[field] = JsonNode.Parse(json)), HttpStatusCode.BadRequest, "invalid_transaction");
    }

    [Fact]
    public async Task A_huge_body_is_refused_as_too_large()
    {
        var padded = Mutated(t => t["body"]!["memo"] = new string('x', 20_000));

        await PostAsync("/v1/txs", padded, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        await PostAsync("/v1/faucet", $"{{\"address\":\"{TestKeys.Carol.Address}\",\"pad\":\"{new string('x', 2_000)}\"}}",
            HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task A_huge_body_without_a_content_length_is_refused_as_too_large()
    {
        await AssertProblemAsync(() =>
        {
            var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(new string(' ', 20_000) + Json(ValidTransfer()))));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/txs", UriKind.Relative)) { Content = content };
            request.Headers.TransferEncodingChunked = true;
            return node.Http.SendAsync(request);
        }, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task A_memo_over_256_bytes_is_refused()
    {
        await PostAsync("/v1/txs", Mutated(t => t["body"]!["memo"] = new string('é', 129)), HttpStatusCode.BadRequest, "invalid_transaction");
    }

    [Theory]
    [InlineData("from")]
    [InlineData("to")]
    public async Task An_invalid_address_in_a_transaction_is_refused(string field)
    {
        var good = (field == "from" ? Sender.Address : TestKeys.Bob.Address).ToString();
        var typo = good[..^1] + (good[^1] == 'q' ? 'p' : 'q');
        foreach (var bad in new[] { typo, "ait1", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", good.ToUpperInvariant()[..10] + good[10..] })
        {
            var problem = await PostAsync("/v1/txs", Mutated(t =>
            {
                if (field == "from")
                {
                    t["from"] = bad;
                }
                else
                {
                    t["body"]!["to"] = bad;
                }
            }), HttpStatusCode.BadRequest, "invalid_transaction");
            Assert.Contains("is not a valid address", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/v1/accounts/ait1notanaddress")]
    [InlineData("/v1/accounts/0x1234")]
    [InlineData("/v1/accounts/ait1notanaddress/txs")]
    public async Task An_invalid_address_in_a_path_is_refused(string path)
    {
        await GetAsync(path, HttpStatusCode.BadRequest, "invalid_address");
    }

    [Fact]
    public async Task A_bad_signature_is_refused()
    {
        await PostAsync("/v1/txs", Json(Tx.WithBadSignature(ValidTransfer())), HttpStatusCode.BadRequest, "bad_signature");
        // A valid signature by another key over the same transaction does not verify for its sender either.
        var otherKeys = TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1 * TestNode.Ait), TestKeys.Carol);
        await PostAsync("/v1/txs", Mutated(t => t["signature"] = Hex.Encode(otherKeys.Signature)), HttpStatusCode.BadRequest, "bad_signature");
    }

    [Fact]
    public async Task A_signature_over_other_content_is_refused()
    {
        // The amount changed after signing.
        await PostAsync("/v1/txs", Mutated(t => t["body"]!["amount"] = "2000000000"), HttpStatusCode.BadRequest, "bad_signature");
    }

    [Theory]
    [InlineData("mint")]
    [InlineData("Transfer")]
    [InlineData("escrow.steal")]
    [InlineData("")]
    public async Task An_unknown_transaction_type_is_refused(string type)
    {
        var problem = await PostAsync("/v1/txs", Mutated(t => t["type"] = type), HttpStatusCode.BadRequest, "invalid_transaction");

        Assert.Equal($"unknown transaction type '{type}'", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_transaction_for_another_chain_or_below_the_minimum_fee_is_refused()
    {
        await PostAsync("/v1/txs", Json(Tx.Transfer(TestKeys.Bob, 1).OnChain("ait-devnet").SignedBy(Sender)), HttpStatusCode.BadRequest, "wrong_chain");
        await PostAsync("/v1/txs", Json(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithFee(999), Sender)), HttpStatusCode.BadRequest, "fee_too_low");
        await PostAsync("/v1/txs", Json(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 0), Sender)), HttpStatusCode.BadRequest, "invalid_amount");
    }

    [Fact]
    public async Task A_transaction_the_account_cannot_pay_or_with_a_used_or_far_nonce_is_refused()
    {
        await PostAsync("/v1/txs", Json(TestNode.Sign(Tx.Transfer(TestKeys.Bob, TestNode.UserFunds), Sender)),
            HttpStatusCode.UnprocessableEntity, "insufficient_balance");
        await PostAsync("/v1/txs", Json(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(1_000_000), Sender)),
            HttpStatusCode.Conflict, "nonce_too_far");
        await PostAsync("/v1/txs", Json(TestNode.Sign(Tx.Settle("no-such-job", 1), Sender)), HttpStatusCode.UnprocessableEntity, "escrow_state");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task A_wrong_content_type_is_refused(string contentType)
    {
        await PostAsync("/v1/txs", Json(ValidTransfer()), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", contentType);
        await PostAsync("/v1/txs/batch", $"[{Json(ValidTransfer())}]", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", contentType);
        await PostAsync("/v1/faucet", $"{{\"address\":\"{TestKeys.Carol.Address}\"}}", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", contentType);
    }

    [Theory]
    [InlineData("/v1/txs/xyz")]
    [InlineData("/v1/txs/0123")]
    [InlineData("/v1/txs/ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("/v1/txs/g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public async Task A_bad_hash_is_refused(string path)
    {
        await GetAsync(path, HttpStatusCode.BadRequest, "invalid_hash");
    }

    [Theory]
    [InlineData("/v1/blocks?limit=0")]
    [InlineData("/v1/blocks?limit=101")]
    [InlineData("/v1/blocks?limit=-5")]
    [InlineData("/v1/blocks?from=-1")]
    [InlineData("/v1/blocks?from=abc")]
    [InlineData("/v1/blocks?limit=ten")]
    [InlineData("/v1/blocks?from=99999999999999999999")]
    [InlineData("/v1/blocks/abc")]
    [InlineData("/v1/blocks/-1")]
    [InlineData("/v1/blocks/1.5")]
    [InlineData("/v1/escrows/bad%20job%20id")]
    public async Task A_bad_query_parameter_is_refused(string path)
    {
        await GetAsync(path, HttpStatusCode.BadRequest, "invalid_parameter");
    }

    [Theory]
    [InlineData("/v1/accounts/{sender}/txs?limit=0")]
    [InlineData("/v1/accounts/{sender}/txs?limit=101")]
    [InlineData("/v1/accounts/{sender}/txs?limit=many")]
    public async Task A_bad_history_limit_is_refused(string template)
    {
        await GetAsync(template.Replace("{sender}", Sender.Address.ToString(), StringComparison.Ordinal), HttpStatusCode.BadRequest, "invalid_parameter");
    }

    [Theory]
    [InlineData("/v1/txs?wait=forever")]
    [InlineData("/v1/faucet?wait=1")]
    public async Task A_bad_wait_is_refused(string path)
    {
        var body = path.StartsWith("/v1/faucet", StringComparison.Ordinal) ? $"{{\"address\":\"{TestKeys.Carol.Address}\"}}" : Json(ValidTransfer());

        await PostAsync(path, body, HttpStatusCode.BadRequest, "invalid_parameter");
    }

    [Theory]
    [InlineData("{", "malformed_request")]
    [InlineData("{\"transactions\":[]}", "malformed_request")]
    [InlineData("[]", "invalid_parameter")]
    public async Task A_bad_batch_is_refused(string body, string code)
    {
        await PostAsync("/v1/txs/batch", body, HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task A_batch_of_only_bad_transactions_admits_nothing()
    {
        var before = await StateAsync();
        var body = $"[{Json(Tx.WithBadSignature(ValidTransfer()))},{{\"type\":\"mint\"}},{Mutated(t => t["nonce"] = "0")}]";

        using var response = await node.PostJsonAsync("/v1/txs/batch", body);
        var result = await TestNode.ReadJsonAsync(response, HttpStatusCode.OK);

        Assert.Equal(0, result.GetProperty("accepted").GetInt32());
        Assert.Equal(["bad_signature", "invalid_transaction", "invalid_transaction"],
            result.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        Assert.Equal(before, await StateAsync());
    }

    [Theory]
    [InlineData("{\"address\":\"ait1notanaddress\"}", "invalid_address")]
    [InlineData("{\"address\":42}", "malformed_request")]
    [InlineData("{\"to\":\"somebody\"}", "malformed_request")]
    [InlineData("[1]", "malformed_request")]
    [InlineData("{", "malformed_request")]
    [InlineData("{\"address\":\"{carol}\",\"amount\":5}", "invalid_amount")]
    [InlineData("{\"address\":\"{carol}\",\"amount\":\"0\"}", "invalid_amount")]
    [InlineData("{\"address\":\"{carol}\",\"amount\":\"-5\"}", "invalid_amount")]
    public async Task A_bad_faucet_request_is_refused(string body, string code)
    {
        await PostAsync("/v1/faucet", body.Replace("{carol}", TestKeys.Carol.Address.ToString(), StringComparison.Ordinal), HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task A_plain_request_to_the_websocket_endpoint_is_refused()
    {
        await GetAsync("/v1/ws", HttpStatusCode.BadRequest, "malformed_request");
    }
}
