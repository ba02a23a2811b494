using Microsoft.AspNetCore.Builder;
using Microsoft.OpenApi;

namespace Aitbc.ServiceDefaults;

/// <summary>
/// The OpenAPI request body of an endpoint that reads its JSON body itself (<see cref="RequestBody"/>: with a size limit, after
/// its route group's guard has run). Such an endpoint has no body-bound parameter to describe it, and <c>Accepts&lt;T&gt;</c> is
/// no substitute: its content-type matcher answers 415 during routing, before the guard. The body's record is the schema,
/// listed among the document's components under the record's name.
/// </summary>
public static class OpenApiBodies
{
    public static RouteHandlerBuilder WithJsonBody<TBody>(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, ct) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(TBody), null, ct);
            IOpenApiSchema body = schema;
            if (context.Document is { } document)
            {
                var id = typeof(TBody).Name;
                document.AddComponent(id, schema);
                body = new OpenApiSchemaReference(id, document);
            }
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = body } },
            };
        });
}
