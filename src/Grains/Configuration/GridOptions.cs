using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Configuration;

/// <summary>The <c>Grid</c> configuration section. Env overrides: <c>Grid__DataDirectory</c>, <c>Grid__Storage__Provider</c>…</summary>
public sealed class GridOptions
{
    public const string Section = "Grid";

    /// <summary>Where the embedded database and generated development files live.</summary>
    [Required(ErrorMessage = "Grid:DataDirectory must not be empty.")]
    public string DataDirectory { get; set; } = "./data";
}

[OptionsValidator]
internal sealed partial class GridOptionsValidator : IValidateOptions<GridOptions>;

public enum StorageProvider
{
    Sqlite,
    PostgreSQL,
}

public sealed class StorageOptions
{
    public const string Section = "Grid:Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>Defaults to <c>{DataDirectory}/grid.db</c> for SQLite.</summary>
    public string? ConnectionString { get; set; }
}

internal sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    // The message never repeats the string: it may hold a password.
    private static ValidateOptionsResult ValidPostgresConnectionString(string connectionString)
    {
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException)
        {
            return ValidateOptionsResult.Fail("Grid:Storage:ConnectionString is not a valid Npgsql connection string (Host=…;Port=…;Username=…;Password=…;Database=…).");
        }
    }

    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        // A number binds to an enum even when it names no member.
        return options.Provider switch
        {
            StorageProvider.Sqlite => ValidateOptionsResult.Success,
            StorageProvider.PostgreSQL when string.IsNullOrWhiteSpace(options.ConnectionString) =>
                ValidateOptionsResult.Fail("Grid:Storage:ConnectionString is required when Grid:Storage:Provider is PostgreSQL (an Npgsql connection string)."),
            StorageProvider.PostgreSQL => ValidPostgresConnectionString(options.ConnectionString!),
            _ => ValidateOptionsResult.Fail("Grid:Storage:Provider must be Sqlite or PostgreSQL."),
        };
    }
}

public sealed class BootstrapOptions : IValidatableObject
{
    public const string Section = "Grid:Bootstrap";

    /// <summary>When set together with <see cref="SecretKey"/>, this tenant exists with that key at start-up.</summary>
    public string? TenantId { get; set; }

    [MinLength(25, ErrorMessage = "Grid:Bootstrap:SecretKey must be at least 25 characters.")]
    [MaxLength(128, ErrorMessage = "Grid:Bootstrap:SecretKey must be at most 128 characters.")]
    [RegularExpression("^cg_sk_[A-Za-z0-9_-]+$", ErrorMessage = "Grid:Bootstrap:SecretKey must start with 'cg_sk_' (so secret scanners recognise it) followed by letters, digits, '_' or '-'.")]
    public string? SecretKey { get; set; }

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(TenantId) != string.IsNullOrEmpty(SecretKey))
        {
            yield return new ValidationResult("Grid:Bootstrap:TenantId and Grid:Bootstrap:SecretKey go together: set both or neither.");
        }
        if (!string.IsNullOrEmpty(TenantId) && !Common.GridKeys.IsValidTenantId(TenantId))
        {
            yield return new ValidationResult("Grid:Bootstrap:TenantId must be a tenant id: 1-64 of a-z 0-9 _ -, starting with a letter or digit (a hex number or a GUID spelled canonically).");
        }
    }
}

[OptionsValidator]
internal sealed partial class BootstrapOptionsValidator : IValidateOptions<BootstrapOptions>;

/// <summary>
/// When and how hard the grid refreshes. Defaults are chosen for Atlassian-like providers (1 h access tokens,
/// 90-day sliding refresh tokens) and documented in the README.
/// </summary>
public sealed class RefreshOptions : IValidatableObject
{
    public const string Section = "Grid:Refresh";

    /// <summary>
    /// An access token is refreshed when it has less than this left. Five minutes covers clock skew and a caller's
    /// longest request while costing one refresh per 55 minutes on a hot one-hour token (Nango's 15 minutes costs 22% more).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan AccessTokenMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Fraction of a refresh token's inactivity window after which the grid rotates it without being asked.
    /// 0.5 rotates an Atlassian token after ~45 days, leaving ~45 days to ride out provider outages and backoff;
    /// one extra refresh per connection every 45 days is negligible load.
    /// </summary>
    [Range(0.05, 0.95)]
    public double ProactiveAt { get; set; } = 0.5;

    /// <summary>Jitter applied to proactive refreshes, as a fraction of the interval, so a bulk import does not refresh in one burst.</summary>
    [Range(0.0, 0.5)]
    public double ProactiveJitter { get; set; } = 0.1;

    /// <summary>An imported refresh token's age is unknown, so the grid rotates it within this delay to learn its real window.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan RotateImportedWithin { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Warn when consent must be renewed within this long (absolute refresh-token expiry).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan ConsentWarning { get; set; } = TimeSpan.FromDays(30);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary><c>force_refresh=true</c> never refreshes one connection more often than this.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ForceRefreshCooldown { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Timeout of one call to a token endpoint; well under Orleans' 30 s response timeout, since queued callers wait too.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:00:20")]
    public TimeSpan ProviderTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>The whole exchange with a provider (replays and the answer's body included): twice <see cref="ProviderTimeout"/>.</summary>
    public TimeSpan ProviderDeadline => ProviderTimeout * 2;

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        if (MinBackoff > MaxBackoff)
        {
            yield return new ValidationResult("Grid:Refresh:MinBackoff must not exceed Grid:Refresh:MaxBackoff.");
        }
    }
}

[OptionsValidator]
internal sealed partial class RefreshOptionsValidator : IValidateOptions<RefreshOptions>;
