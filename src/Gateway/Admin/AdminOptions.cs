using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Admin;

/// <summary><c>Grid:Admin</c>: the operator API. Env override: <c>Grid__Admin__ApiKey</c>.</summary>
public sealed class AdminOptions
{
    public const string Section = "Grid:Admin";

    /// <summary>
    /// The operator key for <c>/admin</c>. Unset, the operator API refuses every call. It is never a tenant key and
    /// a tenant key never opens <c>/admin</c>.
    /// </summary>
    [MinLength(32, ErrorMessage = "Grid:Admin:ApiKey must be at least 32 characters.")]
    public string? ApiKey { get; set; }
}

[OptionsValidator]
internal sealed partial class AdminOptionsValidator : IValidateOptions<AdminOptions>;
