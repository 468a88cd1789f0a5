using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Events;

/// <summary>
/// How many recent lifecycle events each tenant keeps for watchers to resume from (<c>Grid:Events</c>). Env overrides:
/// <c>Grid__Events__MaxPerTenant=5000</c>, <c>Grid__Events__Retention=02:00:00</c>,
/// <c>Grid__Events__MaxWatchersPerTenant=200</c>.
/// </summary>
public sealed class EventsOptions
{
    public const string Section = "Grid:Events";

    [Range(10, 100_000)]
    public int MaxPerTenant { get; set; } = 1000;

    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Open watch streams per tenant: every event wakes each of them on the tenant's one log grain, so one tenant's
    /// streams must not grow without bound. Past it a new watch is refused (RESOURCE_EXHAUSTED).
    /// </summary>
    [Range(1, 10_000)]
    public int MaxWatchersPerTenant { get; set; } = 100;
}

[OptionsValidator]
internal sealed partial class EventsOptionsValidator : IValidateOptions<EventsOptions>;
