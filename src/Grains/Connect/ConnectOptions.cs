using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Connect;

/// <summary>Connect sessions and the OAuth flow: <c>Grid:Connect</c>.</summary>
public sealed class ConnectOptions
{
    public const string Section = "Grid:Connect";

    /// <summary>How long a connect session (and every state made under it) can be used; Nango's is 30 minutes.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromMinutes(30);
}

[OptionsValidator]
internal sealed partial class ConnectOptionsValidator : IValidateOptions<ConnectOptions>;
