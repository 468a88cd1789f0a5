using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Events;

public static class EventsSiloBuilderExtensions
{
    /// <summary>Each tenant's recent lifecycle events for watchers (<c>Grid:Events</c>).</summary>
    public static ISiloBuilder AddGridEvents(this ISiloBuilder silo)
    {
        silo.Services.AddOptions<EventsOptions>().BindConfiguration(EventsOptions.Section).ValidateOnStart();
        silo.Services.AddSingleton<IValidateOptions<EventsOptions>, EventsOptionsValidator>();
        return silo;
    }
}
