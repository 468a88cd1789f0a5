using ConnectionGrid.Gateway.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ConnectionGrid.Gateway.Requests;

/// <summary>
/// The one path every JSON request body takes before an endpoint binds it (tenant API and <c>/admin</c> alike): the
/// body is read once, checked against <see cref="JsonBodyRules"/>, and either refused with the API's JSON error or handed
/// on from memory. Runs after authentication, so an unauthenticated caller learns nothing about its body.
/// </summary>
public static class JsonBodyValidation
{
    public static IApplicationBuilder UseJsonBodyValidation(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        // Endpoints that take a body (all of them declare it); a body sent to any other is never read.
        if (context.GetEndpoint() is not { } endpoint || endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is null || !request.HasJsonContentType()
            || context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false)
        {
            await next(context);
            return;
        }
        // JSON is UTF-8 (RFC 8259); the binder would transcode other charsets, which the checks below do not read.
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) && mediaType.Charset.HasValue
            && !string.Equals(HeaderUtilities.RemoveQuotes(mediaType.Charset).Value, "utf-8", StringComparison.OrdinalIgnoreCase))
        {
            await Refuse(context, StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json in UTF-8.");
            return;
        }

        // Kestrel's request body limit still applies while this reads (413 through the exception handler).
        var body = new MemoryStream();
        await request.Body.CopyToAsync(body, context.RequestAborted);
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        if (body.Length > 0 && JsonBodyRules.Check(body.GetBuffer().AsSpan(0, (int)body.Length), options.MaxDepth) is { } violation)
        {
            var path = violation.Path;
            var duplicate = violation.Fault == JsonBodyFault.DuplicateProperty;
            var field = BodyFields.In(BodyFields.Describe(endpoint, options, duplicate ? path.Take(path.Count - 1) : path));
            var (code, message) = violation.Fault switch
            {
                JsonBodyFault.InvalidUtf8 => ("invalid_encoding", "The request body is not valid UTF-8."),
                JsonBodyFault.UnpairedSurrogate => ("invalid_encoding",
                    $"A string{field} holds an unpaired surrogate escape (\\uD800-\\uDFFF); strings must be valid Unicode."),
                JsonBodyFault.DuplicateProperty when path.Count == 1 => ("duplicate_property",
                    $"The request body names {(BodyFields.Describe(endpoint, options, path) is { } name ? $"'{name}'" : "a property")} more than once (names are compared ignoring case); send each property once."),
                JsonBodyFault.DuplicateProperty => ("duplicate_property",
                    $"An object{field} names the same property more than once (names are compared ignoring case); send each property once."),
                JsonBodyFault.TooDeep => ("invalid_body", $"The request body nests objects and arrays more than {options.MaxDepth} levels deep."),
                _ => ("invalid_json", $"The request body is not valid JSON (line {violation.Line}, byte {violation.Byte})."),
            };
            await Refuse(context, StatusCodes.Status400BadRequest, code, message);
            return;
        }
        body.Position = 0;
        request.Body = body;
        if (mediaType?.Charset.HasValue == true)
        {
            // Known to be UTF-8 now; the binder needs no charset, and fails on a quoted one (charset="utf-8").
            request.ContentType = mediaType.MediaType.Value;
        }
        await next(context);
    });

    private static Task Refuse(HttpContext context, int status, string code, string message) =>
        ApiErrors.Create(status, code, message).ExecuteAsync(context);
}
