using Aitbc.Core;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Aitbc.Coordinator;

/// <summary>
/// The OpenAPI document's schemas for the core values, which travel as strings through their converters (the
/// generator cannot see that): amounts as decimal strings of base units, addresses, hashes as hex.
/// </summary>
internal static class OpenApiSchemas
{
    public static void DescribeCoreTypes(OpenApiOptions options) => options.AddSchemaTransformer((schema, context, _) =>
    {
        var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        var (pattern, description) = type == typeof(Amount) ? ("^[0-9]{1,20}$", "An amount in base units, as a decimal string.")
            : type == typeof(Address) ? (null, "An account address.")
            : type == typeof(Hash256) ? ("^[0-9a-f]{64}$", "A SHA-256 hash, as lowercase hex.")
            : ((string?)null, (string?)null);
        if (description is not null)
        {
            schema.Type = JsonSchemaType.String | (type != context.JsonTypeInfo.Type ? JsonSchemaType.Null : 0);
            schema.Pattern = pattern;
            schema.Description = description;
            schema.Properties?.Clear();
        }
        return Task.CompletedTask;
    });
}
