using System.Net;
using System.Text.Json;
using Aitbc.Coordinator.Tests.Infrastructure;

namespace Aitbc.Coordinator.Tests.Api;

/// <summary>The coordinator's OpenAPI document describes the bodies of its main endpoints with real schemas.</summary>
public sealed class OpenApiTests(SqliteMarket market) : IClassFixture<SqliteMarket>
{
    [Fact]
    public async Task The_document_has_schemas_with_properties_for_job_submit_job_and_provider_register()
    {
        var doc = (await market.GetAsync("/openapi/v1.json")).Expect(HttpStatusCode.OK);
        var paths = doc.GetProperty("paths");

        var submit = paths.GetProperty("/v1/jobs").GetProperty("post");
        AssertProperties(doc, RequestSchema(submit), "model", "messages", "prompt", "maxTokens", "maxPrice", "idempotencyKey");
        var created = AssertProperties(doc, ResponseSchema(submit, "201"), "id", "state", "client", "provider", "price", "paymentDeadline", "escrow");
        AssertProperties(doc, ResponseSchema(submit, "200"), "id", "state", "escrow");
        AssertProperties(doc, created.GetProperty("escrow"), "type", "body");
        Assert.Contains("string", Resolve(doc, created.GetProperty("price")).GetProperty("type").ToString(), StringComparison.Ordinal);
        Assert.True(ResponseSchema(submit, "409").ValueKind == JsonValueKind.Object, "a refusal is described as problem details");

        var get = paths.GetProperty("/v1/jobs/{id}").GetProperty("get");
        AssertProperties(doc, ResponseSchema(get, "200"), "id", "state", "model", "maxTokens", "failureCode");

        var register = paths.GetProperty("/v1/providers/register").GetProperty("post");
        var request = AssertProperties(doc, RequestSchema(register), "models", "concurrency", "region", "gpu");
        AssertProperties(doc, request.GetProperty("models").GetProperty("items"), "model", "digest", "priceIn", "priceOut");
        AssertProperties(doc, ResponseSchema(register, "200"), "address", "status", "offers", "record");
    }

    private static JsonElement RequestSchema(JsonElement operation) =>
        operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");

    private static JsonElement ResponseSchema(JsonElement operation, string status)
    {
        Assert.True(operation.GetProperty("responses").TryGetProperty(status, out var response), $"no {status} answer is described: {operation}");
        var content = response.GetProperty("content");
        return (content.TryGetProperty("application/json", out var json) ? json : content.GetProperty("application/problem+json")).GetProperty("schema");
    }

    /// <summary>The schema (followed through its <c>$ref</c>) lists every one of <paramref name="names"/> among its properties; answers its properties.</summary>
    private static JsonElement AssertProperties(JsonElement doc, JsonElement schema, params string[] names)
    {
        var properties = Resolve(doc, schema).GetProperty("properties");
        foreach (var name in names)
        {
            Assert.True(properties.TryGetProperty(name, out _), $"the schema has no property '{name}': {properties}");
        }
        return properties;
    }

    private static JsonElement Resolve(JsonElement doc, JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!["#/components/schemas/".Length..];
            schema = doc.GetProperty("components").GetProperty("schemas").GetProperty(name);
        }
        return schema;
    }
}
