using ConnectionGrid.Encryption;
using ConnectionGrid.Common;

namespace ConnectionGrid.Integrations;

/// <summary>A tenant's OAuth app registration with one provider. Key: <see cref="GridKeys.Integration"/>.</summary>
[Alias("cg.integration")]
public interface IIntegrationGrain : IGrainWithStringKey
{
    [Alias("create")]
    Task<Outcome<IntegrationView>> Create(IntegrationSpec spec);

    [Alias("get")]
    Task<IntegrationView?> Get();

    [Alias("update")]
    Task<Outcome<IntegrationView>> Update(IntegrationPatch patch);

    /// <summary>
    /// First step of deleting the integration (the rest is a job, <see cref="Operations.OperationKeys.IntegrationDelete"/>):
    /// from now on it reads as missing, so it takes no new connections, and it cannot be created again until it is gone.
    /// Idempotent; false if there is no such integration.
    /// </summary>
    [Alias("begin-delete"), AllowedOnRefusedState]
    Task<bool> BeginDelete();

    [Alias("is-deleting")]
    Task<bool> IsDeleting();

    /// <summary>
    /// Last step, once the job has deleted its connections (they cannot outlive it: without its client they can never
    /// refresh again): removes the integration. Does nothing unless it is being deleted.
    /// </summary>
    [Alias("complete-delete")]
    Task CompleteDelete();
}

[GenerateSerializer, Immutable, Alias("cg.integration-spec")]
public sealed record IntegrationSpec
{
    [Id(0)] public required string Provider { get; init; }
    [Id(1)] public string? DisplayName { get; init; }
    [Id(2)] public string? ClientId { get; init; }
    [Id(3)] public string? ClientSecret { get; init; }
    [Id(4)] public IReadOnlyList<string> Scopes { get; init; } = [];

    // Records print every property by default, and Orleans may log call arguments: never print the secret.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Provider = {Provider}, ClientId = {ClientId}, ClientSecret = {Redaction.Of(ClientSecret)}");
        return true;
    }
}

[GenerateSerializer, Immutable, Alias("cg.integration-patch")]
public sealed record IntegrationPatch
{
    [Id(0)] public string? DisplayName { get; init; }
    [Id(1)] public string? ClientId { get; init; }
    [Id(2)] public string? ClientSecret { get; init; }
    [Id(3)] public IReadOnlyList<string>? Scopes { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"ClientId = {ClientId}, ClientSecret = {Redaction.Of(ClientSecret)}");
        return true;
    }
}

/// <summary>An integration as its owner sees it. Holds the client secret: the HTTP layer decides whether to show it.</summary>
[GenerateSerializer, Immutable, Alias("cg.integration-view")]
public sealed record IntegrationView
{
    [Id(0)] public required string UniqueKey { get; init; }
    [Id(1)] public required string Provider { get; init; }
    [Id(2)] public string? DisplayName { get; init; }
    [Id(3)] public string? ClientId { get; init; }
    [Id(4)] public string? ClientSecret { get; init; }
    [Id(5)] public IReadOnlyList<string> Scopes { get; init; } = [];
    [Id(6)] public DateTimeOffset CreatedAt { get; init; }
    [Id(7)] public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Things the grid changed on the caller's behalf, e.g. adding <c>offline_access</c>.</summary>
    [Id(8)] public IReadOnlyList<string> Notices { get; init; } = [];

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"UniqueKey = {UniqueKey}, Provider = {Provider}, ClientId = {ClientId}, ClientSecret = {Redaction.Of(ClientSecret)}");
        return true;
    }
}
