using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>
/// Declares the error statuses a route (or a group) answers with <see cref="ErrorBody"/>, for the OpenAPI document.
/// A handler's typed <c>Results&lt;…&gt;</c> declare its success answers; its errors share one type
/// (<see cref="ApiError"/>), so their statuses are declared here.
/// </summary>
public static class ErrorResponses
{
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata([.. statuses.Select(status => new ProducesResponseTypeMetadata(status, typeof(ErrorBody), ["application/json"]))]);
}
