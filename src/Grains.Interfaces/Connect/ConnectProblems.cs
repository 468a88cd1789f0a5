using ConnectionGrid.Common;

namespace ConnectionGrid.Connect;

/// <summary>The problems of the flow, shared by the grains so the pages can tell them apart by code.</summary>
public static class SessionProblems
{
    public static Problem Expired() => new("connect_session_expired",
        "This connect link has expired or is not valid. Go back to the application and start connecting again.", ProblemKind.NotFound);

    public static Problem ConnectionExists() => Problem.Conflict("connection_exists",
        "A connection with this id exists already, and only a reconnect link may replace it. Go back to the application and start again.");

    public static Problem NotAllowed() => new("integration_not_allowed",
        "This connect session does not allow this integration.", ProblemKind.Invalid);
}

/// <summary>The flow's failures, each with what happened and what to do.</summary>
public static class FlowProblems
{
    public static Problem UnknownState() => Problem.Invalid("invalid_state",
        "This authorization is not one the grid started (the link is forged or damaged). Nothing was connected. Go back to the application and connect again.");

    public static Problem StateUsed() => Problem.Invalid("state_already_used",
        "This authorization was already used (the page was reloaded or the link replayed). Nothing more was done. Go back to the application to see whether you are connected.");

    public static Problem OtherBrowser() => Problem.Invalid("state_other_browser",
        "This authorization was started in another browser (or on another address of the grid than its public one), so nothing was connected and this authorization can no longer be used. Go back to the application in this browser and connect again from there.");

    public static Problem StateExpired() => Problem.Invalid("state_expired",
        "This authorization took too long and has expired. Nothing was connected. Go back to the application and connect again.");

    public static Problem AccessDenied() => Problem.Invalid("access_denied",
        "You declined access on the provider's consent page, so nothing was connected. To connect, go back to the application and accept.");

    public static Problem ProviderRefused() => new("provider_error",
        "The provider refused the authorization request. Nothing was connected. Go back to the application and try again; if it keeps failing, tell its owner.", ProblemKind.Unavailable);

    public static Problem NoRefreshToken() => new("missing_refresh_token",
        "The provider granted access without a refresh token (offline access), so the connection could not stay alive and was not stored. The application's owner must request offline access; then connect again.", ProblemKind.Unavailable);

    /// <param name="failureCode">The token client's classification of the failed exchange.</param>
    public static Problem ExchangeFailed(string failureCode) => failureCode switch
    {
        "invalid_client" => new("integration_misconfigured",
            "The provider refused the integration's client id or secret. Nothing was connected. The application's owner must fix the integration.", ProblemKind.Unavailable),
        "provider_error" or "invalid_grant" or "unauthorized_client" => Problem.Invalid("invalid_code",
            "The provider refused the authorization code (it is invalid, already used or expired). Nothing was connected. Go back to the application and connect again."),
        _ => new("provider_unavailable",
            "The provider could not be reached to finish connecting. Nothing was connected. Go back to the application and try again in a few minutes.", ProblemKind.Unavailable),
    };
}
