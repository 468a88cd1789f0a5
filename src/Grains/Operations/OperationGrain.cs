using ConnectionGrid.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Operations;

/// <summary>
/// Runs one long operation as a job (<see cref="IOperationGrain"/>); what the work is comes from its
/// <see cref="IOperationWork"/>. The work goes in batches, and the job's place and counters are written after each,
/// so a restart resumes where it stopped. While the activation lives a grain timer drives the batches; a reminder,
/// registered before a run is recorded and removed after its last write, brings a stopped run back (after a crash, or
/// a failed batch, a period later); and <see cref="OperationResumer"/> drives unfinished runs at start-up, so a
/// restarted silo does not wait for the reminder. Reading the status never drives the work.
/// </summary>
[GrainType(TypeName)]
public sealed partial class OperationGrain(
    [PersistentState("operation", GridStorage.Name)] IPersistentState<OperationState> state,
    IServiceProvider services,
    IOptions<OperationOptions> options,
    TimeProvider clock,
    ILogger<OperationGrain> logger) : Grain, IOperationGrain, IRemindable
{
    public const string TypeName = "operation";
    public const string RunReminder = "operation-run";

    private IGrainTimer? _timer;

    private string Key => this.GetPrimaryKeyString();

    private (OperationKind Kind, string Target) Work => OperationKeys.Parse(Key);

    private IOperationWork Worker => services.GetRequiredKeyedService<IOperationWork>(Work.Kind);

    public async Task<OperationView?> Start()
    {
        if (state.State.IsRunning)
        {
            // The same work asked for again: it joins this run (and makes sure it is moving).
            Drive();
            return View();
        }
        // Before anything is recorded: a 404 leaves nothing behind. A crash between this and the record leaves the
        // target marked as being deleted with no job; the request failed, and asking again starts the job.
        if (!await Worker.BeginAsync(Work.Target))
        {
            if (state.State.Run is null)
            {
                DeactivateOnIdle();
            }
            return null;
        }
        // The reminder before the record: a crash in between leaves a reminder that finds no run and removes itself.
        var period = options.Value.ReminderPeriod;
        await this.RegisterOrUpdateReminder(RunReminder, period, period);
        state.State = new OperationState
        {
            Run = OperationKeys.NewRun(),
            Status = OperationStatus.Running,
            StartedAt = clock.GetUtcNow(),
            Progress = Worker.Counters.ToDictionary(counter => counter, _ => 0L),
        };
        await state.WriteStateAsync();
        LogStarted(logger, Key, state.State.Run);

        // Small work is done within the request; the rest goes on in the background.
        var started = clock.GetTimestamp();
        while (state.State.IsRunning && clock.GetElapsedTime(started) < options.Value.InlineFor && await StepAsync())
        {
        }
        if (state.State.IsRunning && state.State.FailedAttempts == 0)
        {
            Drive();
        }
        return View();
    }

    public Task<OperationView?> Get()
    {
        if (state.State.Run is null)
        {
            // Ids nobody started (typos, guesses) must not pile up as activations.
            DeactivateOnIdle();
            return Task.FromResult<OperationView?>(null);
        }
        return Task.FromResult<OperationView?>(View());
    }

    public async Task Resume()
    {
        if (state.State.IsRunning)
        {
            Drive();
            return;
        }
        // A reminder that outlived its run (a crash after the last write): remove it.
        await UnregisterReminderAsync();
        DeactivateOnIdle();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        reminderName == RunReminder ? Resume() : Task.CompletedTask;

    public async Task Forget()
    {
        StopTimer();
        await UnregisterReminderAsync();
        // Also a record whose state was refused (it failed its integrity check): its row goes unread.
        if (state.State.Run is not null || state.RecordExists)
        {
            await state.ClearStateAsync();
            LogForgotten(logger, Key);
        }
        DeactivateOnIdle();
    }

    /// <summary>Makes sure a timer runs the next batch now; a no-op while one is armed or running.</summary>
    private void Drive() => _timer ??= this.RegisterGrainTimer(TickAsync,
        new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (!state.State.IsRunning)
        {
            StopTimer();
            return;
        }
        if (await StepAsync())
        {
            _timer?.Change(options.Value.BatchPause, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>One batch, then its place written. True while there is more to do now; false when done or after a failure.</summary>
    private async Task<bool> StepAsync()
    {
        var job = state.State;
        bool done;
        try
        {
            done = await Worker.StepAsync(Work.Target, job);
        }
        catch (Exception exception)
        {
            job.FailedAttempts++;
            var givingUp = job.FailedAttempts >= options.Value.MaxAttempts;
            LogBatchFailed(logger, exception, Key, job.FailedAttempts, options.Value.MaxAttempts);
            // The cause stays in the operator's logs: an exception may name internals a tenant must not see.
            job.ErrorCode = "batch_failed";
            job.ErrorMessage = givingUp
                ? $"The operation stopped after {job.FailedAttempts} failed attempts; the grid's logs say why. Ask for it again to retry."
                : $"A batch failed ({job.FailedAttempts} of {options.Value.MaxAttempts} attempts); it is retried shortly.";
            if (givingUp)
            {
                job.Status = OperationStatus.Failed;
                job.FinishedAt = clock.GetUtcNow();
            }
            await state.WriteStateAsync();
            // Until the next reminder tick: a failing database or grain is not hammered in a loop.
            StopTimer();
            if (givingUp)
            {
                await UnregisterReminderAsync();
            }
            return false;
        }

        job.FailedAttempts = 0;
        job.ErrorCode = null;
        job.ErrorMessage = null;
        if (done)
        {
            job.Status = OperationStatus.Succeeded;
            job.FinishedAt = clock.GetUtcNow();
        }
        await state.WriteStateAsync();
        if (done)
        {
            StopTimer();
            await UnregisterReminderAsync();
            LogSucceeded(logger, Key, string.Join(", ", job.Progress.Select(p => $"{p.Key} {p.Value}")));
        }
        return !done;
    }

    private void StopTimer()
    {
        _timer?.Dispose();
        _timer = null;
    }

    private async Task UnregisterReminderAsync()
    {
        if (await this.GetReminder(RunReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private OperationView View() => new()
    {
        Id = OperationKeys.IdOf(Key, state.State.Run!),
        Kind = Work.Kind,
        Status = state.State.Status,
        Progress = new Dictionary<string, long>(state.State.Progress),
        StartedAt = state.State.StartedAt,
        FinishedAt = state.State.FinishedAt,
        ErrorCode = state.State.ErrorCode,
        ErrorMessage = state.State.ErrorMessage,
    };

    [LoggerMessage(LogLevel.Information, "Started {Operation}, run {Run}")]
    private static partial void LogStarted(ILogger logger, string operation, string run);

    [LoggerMessage(LogLevel.Information, "{Operation} succeeded: {Progress}")]
    private static partial void LogSucceeded(ILogger logger, string operation, string progress);

    [LoggerMessage(LogLevel.Warning, "A batch of {Operation} failed (attempt {Attempt} of {MaxAttempts})")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string operation, int attempt, int maxAttempts);

    [LoggerMessage(LogLevel.Information, "Forgot {Operation}: its work was taken over")]
    private static partial void LogForgotten(ILogger logger, string operation);
}
