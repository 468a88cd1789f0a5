using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// Key scopes on the tenant API. An endpoint lists the narrower scopes it accepts with <see cref="AllowKeyScopes"/>;
/// without that only <see cref="KeyScopes.Full"/> gets in, so a new endpoint is closed to narrow keys by default.
/// </summary>
public static class KeyScopeAuthorization
{
    public static TBuilder AllowKeyScopes<TBuilder>(this TBuilder builder, params string[] scopes) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AllowedKeyScopes([KeyScopes.Full, .. scopes]));

    public static IReadOnlyList<string> AllowedScopes(Endpoint? endpoint) =>
        endpoint?.Metadata.GetMetadata<AllowedKeyScopes>()?.Scopes ?? [KeyScopes.Full];

    public static AuthorizationPolicy Policy { get; } = new AuthorizationPolicyBuilder(SecretKeyAuthenticationHandler.SchemeName)
        .RequireAuthenticatedUser()
        .AddRequirements(new KeyScopeRequirement())
        .Build();
}

public sealed record AllowedKeyScopes(IReadOnlyList<string> Scopes);

public sealed class KeyScopeRequirement : IAuthorizationRequirement;

public sealed class KeyScopeHandler : AuthorizationHandler<KeyScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, KeyScopeRequirement requirement)
    {
        var endpoint = context.Resource switch
        {
            HttpContext http => http.GetEndpoint(),
            Endpoint e => e,
            _ => null,
        };
        var allowed = KeyScopeAuthorization.AllowedScopes(endpoint);
        if (allowed.Any(context.User.HasScope))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}
