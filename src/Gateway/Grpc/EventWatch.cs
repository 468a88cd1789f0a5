using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ConnectionGrid.Events;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// One watcher of a tenant's event log. The log's grain wakes it (an Orleans grain observer) whenever events are
/// appended; the events themselves are always read from the log by position, so a lost wake-up delays events (until the
/// next renewal) but never loses or repeats one, and a reconnecting client resumes from its last event id.
/// </summary>
public sealed class EventWatch : IConnectionEventsObserver, IAsyncDisposable
{
    private const int PageSize = 100;

    private readonly IGrainFactory _grains;
    private readonly IConnectionEventsGrain _log;
    private readonly string _integrationKey;
    private readonly string? _connectionId;
    private readonly Channel<long> _wakeUps = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private IConnectionEventsObserver? _reference;
    private EventPosition _position = null!;

    private EventWatch(IGrainFactory grains, string tenantId, string integrationKey, string? connectionId)
    {
        _grains = grains;
        _log = grains.GetGrain<IConnectionEventsGrain>(tenantId);
        _integrationKey = integrationKey;
        _connectionId = connectionId;
    }

    /// <summary>Subscribes first, then reads where to start: an event appended in between wakes this watch, so none is missed.</summary>
    public static async Task<EventWatch> StartAsync(IGrainFactory grains, string tenantId, string integrationKey, string? connectionId,
        EventPosition? resumeAfter, CancellationToken cancellationToken)
    {
        var watch = new EventWatch(grains, tenantId, integrationKey, connectionId);
        try
        {
            watch._reference = grains.CreateObjectReference<IConnectionEventsObserver>(watch);
            if (!await watch._log.Subscribe(watch._reference).WaitAsync(cancellationToken))
            {
                throw TooManyWatchers();
            }
            if (resumeAfter is null)
            {
                watch._position = (await watch._log.Read(null, integrationKey, connectionId, 1).WaitAsync(cancellationToken)).Next;
            }
            else
            {
                watch._position = resumeAfter;
            }
            return watch;
        }
        catch
        {
            await watch.DisposeAsync();
            throw;
        }
    }

    /// <summary>Pages of matching events in order, until cancelled; a page marked expired ends it.</summary>
    public async IAsyncEnumerable<(string Epoch, IReadOnlyList<ConnectionEventRecord> Events, bool Expired)> ReadAllAsync(
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var renewAt = DateTimeOffset.UtcNow + ConnectionEvents.RenewEvery;
        while (!cancellationToken.IsCancellationRequested)
        {
            var page = await _log.Read(_position, _integrationKey, _connectionId, PageSize).WaitAsync(cancellationToken);
            if (page.Expired)
            {
                yield return (_position.Epoch, [], true);
                yield break;
            }
            _position = page.Next;
            if (page.Events.Count > 0)
            {
                yield return (page.Next.Epoch, page.Events, false);
            }
            if (page.More)
            {
                continue;
            }
            // Wait for a wake-up, or renew the subscription (real time: it is the silo's ObserverManager that expires it).
            var wait = renewAt - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(wait);
                try
                {
                    await _wakeUps.Reader.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
            if (DateTimeOffset.UtcNow >= renewAt)
            {
                // Refused only if the log's grain was reactivated meanwhile and its watchers filled up again.
                if (!await _log.Subscribe(_reference!).WaitAsync(cancellationToken))
                {
                    throw TooManyWatchers();
                }
                renewAt = DateTimeOffset.UtcNow + ConnectionEvents.RenewEvery;
            }
        }
    }

    private static global::Grpc.Core.RpcException TooManyWatchers() => GrpcErrors.Exception(Microsoft.AspNetCore.Http.StatusCodes.Status429TooManyRequests, "too_many_watchers",
        "This account has as many open watch streams as the grid allows; close one (or raise Grid:Events:MaxWatchersPerTenant) and watch again.");

    public Task Appended(long sequence)
    {
        _wakeUps.Writer.TryWrite(sequence);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_reference is null)
        {
            return;
        }
        try
        {
            // Best effort: an unrenewed subscription lapses by itself.
            await _log.Unsubscribe(_reference).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
        }
        _grains.DeleteObjectReference<IConnectionEventsObserver>(_reference);
        _reference = null;
    }
}
