namespace ConnectionGrid.Sandbox;

/// <summary>
/// Windows and switches of the emulated Atlassian authorization server. Read on every request, so a test may change
/// them while the emulator runs (plain properties: fine for tests, not a concurrency primitive).
/// </summary>
public sealed class AtlassianEmulatorOptions
{
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long after its rotation the previous refresh token may still be exchanged without a breach.</summary>
    public TimeSpan ReuseInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A family dies when no token of it was issued for this long (only token-endpoint calls count).</summary>
    public TimeSpan InactivityExpiry { get; set; } = TimeSpan.FromDays(90);

    /// <summary>A family dies this long after its consent; rotation does not extend it.</summary>
    public TimeSpan AbsoluteExpiry { get; set; } = TimeSpan.FromDays(365);

    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Refresh responses without <c>refresh_token</c>, as sometimes seen in the wild. The server then keeps the
    /// presented token current (no rotation), which is the only way a client that keeps its old token can go on.
    /// </summary>
    public bool OmitRefreshTokenInResponse { get; set; }

    public bool OmitExpiresIn { get; set; }

    /// <summary>When false a refresh returns the same refresh token (still resetting its inactivity clock).</summary>
    public bool RotateRefreshTokens { get; set; } = true;

    /// <summary>The user clicks "Deny" on the consent page: /authorize redirects with <c>error=access_denied</c>.</summary>
    public bool DenyConsent { get; set; }

    /// <summary>
    /// /authorize shows a consent page (Accept / Deny buttons posting back) instead of answering at once: what a person
    /// sees in the sandbox and what browser tests click through.
    /// </summary>
    public bool InteractiveConsent { get; set; }

    /// <summary>Where the emulator listens (port 0: a free one).</summary>
    public string ListenUrl { get; set; } = "http://127.0.0.1:0";

    /// <summary>The app's name on the consent page.</summary>
    public string AppName { get; set; } = "Emulated app";

    /// <summary>The registered app; random per emulator when null (filled in at start).</summary>
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }

    /// <summary>
    /// What the user grants of the requested scope (null: all of it). Returning a scope without offline_access makes the
    /// code exchange answer without a refresh token, as Atlassian does.
    /// </summary>
    public Func<string, string>? GrantedScope { get; set; }

    /// <summary>The app's registered callback; when set, /authorize refuses any other redirect_uri.</summary>
    public string? RedirectUri { get; set; }

    /// <summary>When set, accessible-resources answers 200 with exactly these bytes (hostile answers in tests).</summary>
    public byte[]? AccessibleResourcesBody { get; set; }

    /// <summary>Sites the grant covers (accessible-resources). Replace the list to make it grow at run time.</summary>
    public IReadOnlyList<AtlassianSite> Sites { get; set; } = [new(Guid.NewGuid().ToString(), "acme")];

    public string AccountId { get; set; } = "557058:" + Guid.NewGuid();
    public string Email { get; set; } = "alice@acme.example";
    public string DisplayName { get; set; } = "Alice Example";
}

/// <summary>A cloud site. <paramref name="Scopes"/> null: the grant's scopes (minus offline_access) are reported.</summary>
public sealed record AtlassianSite(string Id, string Name, IReadOnlyList<string>? Scopes = null)
{
    public string Url => $"https://{Name}.atlassian.net";
    public string AvatarUrl => $"https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/{Name}.png";
}

/// <summary>Tokens as a client would hold them right after consent. RefreshToken is the family's current one.</summary>
public sealed record IssuedTokens(string FamilyId, string AccessToken, string RefreshToken, int ExpiresIn, string Scope);

/// <summary>One token-endpoint request. <paramref name="Fault"/> names a fault that did not replace processing
/// (latency, lose_response); Status is what the server decided even if the client never saw it (0: no response).</summary>
public sealed record LedgerEntry(DateTimeOffset At, string GrantType, string? PresentedRefreshToken, string Outcome, int Status, string? Fault = null);

/// <summary>A misbehaviour applied to one token-endpoint request (see <see cref="AtlassianEmulator.Enqueue"/>).</summary>
public abstract record Fault
{
    private protected Fault() { }

    public abstract string Kind { get; }

    /// <summary>Wait (real time: it is network latency), then process normally.</summary>
    public static Fault Latency(TimeSpan delay) => new LatencyFault(delay);

    /// <summary>Answer with this status instead of processing (nothing rotates). Retry-After is sent in whole seconds.</summary>
    public static Fault Status(int status, TimeSpan? retryAfter = null, string? body = null) => new StatusFault(status, retryAfter, body);

    /// <summary>Process the request (a refresh rotates), then abort the connection so the client never sees the answer.</summary>
    public static Fault LoseResponseAfterRotation() => new LoseResponseFault();

    /// <summary>Never answer; the connection is aborted when the client gives up or the emulator stops.</summary>
    public static Fault Hang() => new HangFault();

    /// <summary>
    /// Answer with exactly this status, body and headers instead of processing (nothing rotates): HTML, broken JSON,
    /// redirects, whatever a hostile or broken token endpoint may send. <paramref name="contentType"/> null sends none.
    /// </summary>
    public static Fault Raw(int status, byte[] body, string? contentType = "application/json", IReadOnlyDictionary<string, string>? headers = null) =>
        new RawFault(status, body, contentType, headers ?? new Dictionary<string, string>());

    /// <summary>
    /// Process the request (a refresh rotates), then answer with the bytes <paramref name="rewrite"/> makes of the real
    /// response body (its JSON text) instead: the provider did the work, the client gets a mangled answer.
    /// </summary>
    /// <param name="sendContentLength">Announce the body's length; without it the body is sent chunked.</param>
    public static Fault RewriteAfterRotation(Func<string, byte[]> rewrite, string? contentType = "application/json", bool sendContentLength = false) =>
        new RewriteFault(rewrite, contentType, sendContentLength);

    /// <summary>
    /// Process the request (a refresh rotates), send the bytes <paramref name="rewrite"/> makes of the real response
    /// body (chunked), then stall: the body never finishes, until the client gives up or the emulator stops.
    /// </summary>
    public static Fault StallAfterRotation(Func<string, byte[]> rewrite) => new StallFault(rewrite);

    /// <summary>Answer 200 at once, then one byte of the body every <paramref name="interval"/>, never finishing (nothing rotates).</summary>
    public static Fault Drip(TimeSpan interval) => new DripFault(interval);

    public sealed record LatencyFault(TimeSpan Delay) : Fault { public override string Kind => "latency"; }
    public sealed record StatusFault(int StatusCode, TimeSpan? RetryAfter, string? Body) : Fault { public override string Kind => "status"; }
    public sealed record LoseResponseFault : Fault { public override string Kind => "lose_response"; }
    public sealed record HangFault : Fault { public override string Kind => "hang"; }
    public sealed record RawFault(int StatusCode, byte[] Body, string? ContentType, IReadOnlyDictionary<string, string> Headers) : Fault { public override string Kind => "raw"; }
    public sealed record RewriteFault(Func<string, byte[]> Rewrite, string? ContentType, bool SendContentLength) : Fault { public override string Kind => "rewrite"; }
    public sealed record StallFault(Func<string, byte[]> Rewrite) : Fault { public override string Kind => "stall"; }
    public sealed record DripFault(TimeSpan Interval) : Fault { public override string Kind => "drip"; }
}
