namespace ConnectionGrid.Connect;

[GenerateSerializer, Alias("cg.connect-session-state")]
public sealed class ConnectSessionState
{
    [Id(0)] public ConnectSessionSpec? Spec { get; set; }
    [Id(1)] public DateTimeOffset ExpiresAt { get; set; }
    [Id(2)] public List<ConnectAttempt> Attempts { get; set; } = [];
    /// <summary>Authorizations started: each writes a state row, so a link holder may start only a few.</summary>
    [Id(3)] public int Authorizations { get; set; }
    /// <summary>The keys of the state rows those authorizations wrote: removed with the session.</summary>
    [Id(4)] public List<string> StateKeys { get; set; } = [];
}

[GenerateSerializer, Alias("cg.oauth-state-state")]
public sealed class OAuthStateState
{
    [Id(0)] public OAuthFlow? Flow { get; set; }
    /// <summary>Set before the provider is called: a replayed state finds it and calls nobody.</summary>
    [Id(1)] public bool Used { get; set; }
}
