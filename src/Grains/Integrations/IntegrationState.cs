namespace ConnectionGrid.Integrations;

[GenerateSerializer, Alias("cg.integration-state")]
public sealed class IntegrationState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string Provider { get; set; } = "";
    [Id(2)] public string? DisplayName { get; set; }
    [Id(3)] public string? ClientId { get; set; }
    [Id(4)] public string? ClientSecret { get; set; }
    [Id(5)] public List<string> Scopes { get; set; } = [];
    [Id(6)] public DateTimeOffset CreatedAt { get; set; }
    [Id(7)] public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Set when its deletion starts: it reads as missing from then on, while the job deletes its connections.</summary>
    [Id(8)] public bool Deleting { get; set; }
}
