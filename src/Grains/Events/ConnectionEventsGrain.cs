using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Utilities;

namespace ConnectionGrid.Events;

/// <summary>
/// A tenant's event log for watchers (<see cref="ConnectionEventLog"/>), in memory: nothing is written to storage on the
/// refresh path for it. The activation stays for the retention period after the last event, so an idle tenant's events
/// are kept as promised; a new activation (a restart, a silo lost) starts a new epoch, and resume ids of the old one
/// are answered as expired, never with a gap.
/// </summary>
public sealed class ConnectionEventsGrain(IOptions<EventsOptions> options, TimeProvider clock, ILogger<ConnectionEventsGrain> logger)
    : Grain, IConnectionEventsGrain
{
    private readonly ConnectionEventLog _log = new(RandomNumberGenerator.GetHexString(8, lowercase: true), options.Value.MaxPerTenant, options.Value.Retention);
    private readonly ObserverManager<IConnectionEventsObserver> _observers = new(ConnectionEvents.SubscriptionLifetime, logger);

    public Task Append(ConnectionEventRecord record)
    {
        var appended = _log.Append(record, clock.GetUtcNow());
        DelayDeactivation(options.Value.Retention);
        if (_observers.Count > 0)
        {
            _observers.Notify(o => o.Appended(appended.Sequence));
        }
        return Task.CompletedTask;
    }

    public Task Lost()
    {
        _log.Lost();
        DelayDeactivation(options.Value.Retention);
        return Task.CompletedTask;
    }

    public Task<EventPage> Read(EventPosition? after, string integrationKey, string? connectionId, int max) =>
        Task.FromResult(_log.Read(after, integrationKey, connectionId, Math.Clamp(max, 1, 1000), clock.GetUtcNow()));

    public Task<bool> Subscribe(IConnectionEventsObserver observer)
    {
        // Lapsed subscriptions (a gateway that went away) do not count against the tenant's watchers.
        _observers.ClearExpired();
        if (_observers.Count >= options.Value.MaxWatchersPerTenant && !_observers.Observers.ContainsKey(observer))
        {
            return Task.FromResult(false);
        }
        _observers.Subscribe(observer, observer);
        return Task.FromResult(true);
    }

    public Task Unsubscribe(IConnectionEventsObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }
}
