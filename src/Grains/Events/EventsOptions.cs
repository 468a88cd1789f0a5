using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Events;

/// <summary>
/// How many recent lifecycle events each tenant keeps for watchers to resume from (<c>Grid:Events</c>). Env overrides:
/// <c>Grid__Events__MaxPerTenant=5000</c>, <c>Grid__Events__Retention=02:00:00</c>.
/// </summary>
public sealed class EventsOptions
{
    public const string Section = "Grid:Events";

    [Range(10, 100_000)]
    public int MaxPerTenant { get; set; } = 1000;

    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(1);
}

[OptionsValidator]
internal sealed partial class EventsOptionsValidator : IValidateOptions<EventsOptions>;
