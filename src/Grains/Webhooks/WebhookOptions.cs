using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Webhooks;

/// <summary>Webhook delivery (<c>Grid:Webhooks</c>). Env overrides: <c>Grid__Webhooks__AllowPrivateNetworks=true</c>.</summary>
public sealed class WebhookOptions : IValidatableObject
{
    public const string Section = "Grid:Webhooks";

    /// <summary>Allow plain http and private, loopback and link-local destinations (tests, local development).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>How long a signing secret stays valid after a newer one was created.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan SecretGracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>First retry delay; doubles per attempt (±20 % jitter) up to <see cref="MaxBackoff"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long an event is retried before it is marked failed.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "30.00:00:00")]
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromHours(25);

    /// <summary>Timeout of one delivery attempt (until the receiver's answer is in).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Deliveries of one tenant in flight at once.</summary>
    [Range(1, 64)]
    public int MaxConcurrentPerTenant { get; set; } = 4;

    /// <summary>Undelivered events a tenant's outbox holds; beyond it new events are dropped and counted.</summary>
    [Range(10, 100_000)]
    public int MaxPending { get; set; } = 1000;

    /// <summary>Delivered and failed deliveries kept for <c>GET /webhooks/deliveries</c>.</summary>
    [Range(0, 10_000)]
    public int KeepFinished { get; set; } = 200;

    /// <summary>How long before consent's absolute end <c>connection.consent_expiring</c> is sent, once each.</summary>
    public List<TimeSpan> ConsentWarningLeadTimes { get; set; } = [];

    /// <summary>The lead times in effect: the configured ones, or 30, 7 and 1 days; longest first.</summary>
    public IReadOnlyList<TimeSpan> LeadTimes => (ConsentWarningLeadTimes.Count > 0 ? ConsentWarningLeadTimes
        : [TimeSpan.FromDays(30), TimeSpan.FromDays(7), TimeSpan.FromDays(1)]).Distinct().OrderDescending().ToList();

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        if (MinBackoff > MaxBackoff)
        {
            yield return new ValidationResult("Grid:Webhooks:MinBackoff must not exceed Grid:Webhooks:MaxBackoff.");
        }
        if (ConsentWarningLeadTimes.Any(t => t <= TimeSpan.Zero || t > TimeSpan.FromDays(365)) || ConsentWarningLeadTimes.Count > 10)
        {
            yield return new ValidationResult("Grid:Webhooks:ConsentWarningLeadTimes must list at most 10 durations between 1 second and 365 days.");
        }
    }
}

[OptionsValidator]
internal sealed partial class WebhookOptionsValidator : IValidateOptions<WebhookOptions>;
