namespace ConnectionGrid.Connect;

/// <summary>
/// One <c>auth()</c> popup's outcome, handed from the callback to the WebSocket that waits for it. Nothing is stored:
/// the outcome carries ids and codes only, and lives as long as this activation.
/// </summary>
public sealed class AuthWaiterGrain : Grain, IAuthWaiterGrain
{
    private readonly TaskCompletionSource<ConnectCompletion> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<ConnectCompletion?> Wait(TimeSpan max)
    {
        // A transport's poll, not a window of the domain: real time, bounded well under Orleans' call timeout.
        var bounded = TimeSpan.FromTicks(Math.Clamp(max.Ticks, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromSeconds(20).Ticks));
        var done = await Task.WhenAny(_outcome.Task, Task.Delay(bounded, TimeProvider.System));
        if (done != _outcome.Task)
        {
            return null;
        }
        // Delivered once: the next waiter of this key (a replayed client id) gets nothing.
        DeactivateOnIdle();
        return _outcome.Task.Result;
    }

    public Task Deliver(ConnectCompletion completion)
    {
        _outcome.TrySetResult(completion);
        return Task.CompletedTask;
    }
}
