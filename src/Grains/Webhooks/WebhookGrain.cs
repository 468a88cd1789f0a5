using System.Security.Cryptography;
using ConnectionGrid.Common;
using ConnectionGrid.Storage;
using ConnectionGrid.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// A tenant's webhook settings and outbox. Every event is written to the state before <see cref="Record"/> returns, so
/// the call that caused it (a refresh, an import) returns only once the event is durable; delivery then happens off the
/// grain's turn (<see cref="WebhookSender"/>), so a receiver that hangs never holds up this grain, the connections that
/// record events, or another tenant. A reminder drives retries and resumes deliveries after a restart.
/// <para>Order: of the deliveries sharing an ordering key (one URL and one connection), only the oldest is in flight or
/// waiting for its retry; the next goes once it is delivered or has failed for good.</para>
/// </summary>
public sealed partial class WebhookGrain(
    [PersistentState("webhooks", GridStorage.Name)] IPersistentState<WebhookState> state,
    WebhookSender sender,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookGrain> logger) : Grain, IWebhookGrain, IRemindable
{
    public const string ReminderName = "webhook-delivery";
    /// <summary>The <c>last_error</c> of a delivery dropped because its URL left the settings.</summary>
    public const string UrlRemoved = "url_removed";
    private static readonly TimeSpan DropReportInterval = TimeSpan.FromMinutes(1);

    private readonly WebhookOptions _options = options.Value;
    private readonly DeliveryPolicy _policy = new(options.Value);
    // In flight on this activation; lost with it, which re-sends them (at least once).
    private readonly InFlightDeliveries _inFlight = new(options.Value.AttemptTimeout + InFlightDeliveries.Margin);
    private bool _reminderArmed;
    // Drops of a full outbox: counted in State.Dropped in memory, persisted by the next write (any, or a drop a minute
    // after the last save, or deactivation) and logged as one summary a minute: a flood of events rewrites neither the
    // outbox nor the log per event.
    private bool _dropsUnsaved;
    private long _dropsUnlogged;
    private DateTimeOffset _dropsSavedAt = DateTimeOffset.MinValue;
    private DateTimeOffset _dropsLoggedAt = DateTimeOffset.MinValue;

    private WebhookState State => state.State;

    private string TenantId => this.GetPrimaryKeyString();

    public Task<WebhookSettingsView> GetSettings() => Task.FromResult(View(null));

    public async Task<Outcome<WebhookSettingsView>> PutSettings(WebhookSettingsSpec spec)
    {
        if (spec.Urls.Count is < 1 or > 2)
        {
            return Problem.Invalid("invalid_webhook_urls", "'urls' must list one or two URLs.");
        }
        foreach (var url in spec.Urls)
        {
            if (DestinationPolicy.CheckUrl(url, _options.AllowPrivateNetworks) is { } wrong)
            {
                return Problem.Invalid("invalid_webhook_url", $"A webhook URL {wrong}.");
            }
        }
        if (spec.Urls.Distinct(StringComparer.Ordinal).Count() != spec.Urls.Count)
        {
            return Problem.Invalid("invalid_webhook_urls", "'urls' names one URL twice.");
        }
        if (spec.Events is { } events && (events.Count == 0 || events.Any(e => !WebhookEventTypes.All.Contains(e))))
        {
            return Problem.Invalid("invalid_webhook_events", $"'events' must list one or more of: {string.Join(", ", WebhookEventTypes.All)}.");
        }
        var now = clock.GetUtcNow();
        State.Urls = [.. spec.Urls];
        State.Events = spec.Events?.Distinct(StringComparer.Ordinal).ToList();
        // The tenant took these URLs away: sending there (for up to RetryFor, signed) is what it no longer wants.
        foreach (var removed in State.Outbox.Where(d => !State.Urls.Contains(d.Url, StringComparer.Ordinal)).ToList())
        {
            removed.LastError = UrlRemoved;
            Finish(removed, DeliveryStatus.Failed);
        }
        SigningSecretCreated? created = null;
        if (!State.Secrets.Any(s => s.IsValid(now)))
        {
            created = NewSecret(now);
        }
        await WriteAsync();
        Pump(); // deliveries held while no secret was valid
        return View(created);
    }

    public async Task<Outcome<SigningSecretCreated>> CreateSigningSecret()
    {
        var now = clock.GetUtcNow();
        var created = NewSecret(now);
        await WriteAsync();
        Pump(); // deliveries held while no secret was valid
        return created;
    }

    public async Task<Outcome<bool>> DeleteSigningSecret(string id)
    {
        var now = clock.GetUtcNow();
        if (State.Secrets.FirstOrDefault(s => s.Id == id) is not { } secret)
        {
            return Problem.NotFound("The signing secret");
        }
        // The others may be in their grace period: once it ends nothing would sign, so the lasting one must stay.
        if (secret.IsValid(now) && !State.Secrets.Any(s => s != secret && s.IsValid(now) && s.ExpiresAt is null))
        {
            return Problem.Conflict("last_signing_secret", "This is the signing secret in use; deliveries are never sent unsigned: create a new one first.");
        }
        State.Secrets.Remove(secret);
        await WriteAsync();
        return true;
    }

    public async Task Record(WebhookEvent webhookEvent)
    {
        if (State.Urls.Count == 0 || (State.Events is { } wanted && !wanted.Contains(webhookEvent.Type)))
        {
            return;
        }
        if (State.Outbox.Count + State.Urls.Count > _options.MaxPending)
        {
            // Full: the receiver has been failing for long. Dropping the newest keeps what is queued in order; the
            // count is shown in the settings and logged, so the tenant learns it missed events.
            State.Dropped++;
            _dropsUnsaved = true;
            _dropsUnlogged++;
            var at = clock.GetUtcNow();
            if (at - _dropsLoggedAt >= DropReportInterval)
            {
                _dropsLoggedAt = at;
                LogDropped(logger, TenantId, _dropsUnlogged, State.Dropped);
                _dropsUnlogged = 0;
            }
            if (at - _dropsSavedAt >= DropReportInterval)
            {
                await WriteAsync();
            }
            return;
        }
        var now = clock.GetUtcNow();
        foreach (var url in State.Urls)
        {
            State.Sequence++;
            State.Outbox.Add(new DeliveryRecord
            {
                Id = $"{DeliveryIds.Prefix}{State.Sequence:x16}{RandomNumberGenerator.GetHexString(8, lowercase: true)}",
                Type = webhookEvent.Type,
                OrderingKey = url + "\n" + webhookEvent.OrderingKey,
                Url = url,
                PayloadJson = webhookEvent.PayloadJson,
                CreatedAt = webhookEvent.At,
                WindowStart = now,
                Status = DeliveryStatus.Pending,
                NextAttemptAt = now,
            });
        }
        await WriteAsync();
        await EnsureReminderAsync();
        Pump();
    }

    public Task<DeliveryPage> ListDeliveries(DeliveryStatus? status, int limit, string? cursor)
    {
        var all = State.Outbox.Concat(State.Finished)
            .Where(d => status is null || d.Status == status)
            .Where(d => cursor is null || string.CompareOrdinal(d.Id, cursor) < 0)
            .OrderByDescending(d => d.Id, StringComparer.Ordinal)
            .Take(limit + 1)
            .ToList();
        var page = all.Take(limit).Select(d => d.View()).ToList();
        return Task.FromResult(new DeliveryPage { Deliveries = page, NextCursor = all.Count > limit ? page[^1].Id : null });
    }

    public async Task<Outcome<DeliveryView>> Retry(string id)
    {
        var now = clock.GetUtcNow();
        var pending = State.Outbox.FirstOrDefault(d => d.Id == id);
        var finished = pending is null ? State.Finished.FirstOrDefault(d => d.Id == id) : null;
        if ((pending ?? finished) is not { } delivery)
        {
            return Problem.NotFound("The delivery");
        }
        // The tenant took that URL away: sending there again is what it no longer wants.
        if (!State.Urls.Contains(delivery.Url, StringComparer.Ordinal))
        {
            return Problem.Conflict("url_removed", "This delivery's URL is no longer in the webhook settings; it is not sent again.");
        }
        if (finished is not null)
        {
            State.Finished.Remove(finished);
            State.Outbox.Add(finished);
        }
        delivery.Status = DeliveryStatus.Pending;
        delivery.WindowStart = now;
        delivery.NextAttemptAt = now;
        await WriteAsync();
        await EnsureReminderAsync();
        Pump();
        return delivery.View();
    }

    public async Task Attempted(string id, DeliveryAttempt attempt)
    {
        _inFlight.Remove(id);
        var delivery = State.Outbox.FirstOrDefault(d => d.Id == id);
        if (delivery is null)
        {
            return; // finished meanwhile (a duplicate after a restart, or a retry raced it)
        }
        var now = clock.GetUtcNow();
        delivery.Attempts++;
        delivery.LastAttemptAt = now;
        delivery.LastStatusCode = attempt.StatusCode;
        delivery.LastError = attempt.Error;
        string outcome;
        if (attempt.Succeeded)
        {
            Finish(delivery, DeliveryStatus.Delivered);
            outcome = "delivered";
        }
        else if (_policy.NextAttempt(delivery.Attempts, delivery.WindowStart, now) is { } next)
        {
            delivery.NextAttemptAt = next;
            outcome = "retrying";
        }
        else
        {
            LogGaveUp(logger, TenantId, delivery.Id, delivery.Attempts);
            Finish(delivery, DeliveryStatus.Failed);
            outcome = "failed";
        }
        GridTelemetry.WebhookDeliveries.Add(1, new KeyValuePair<string, object?>("connectiongrid.outcome", outcome));
        await WriteAsync();
        Pump();
        if (State.Outbox.Count == 0)
        {
            await RemoveReminderAsync();
        }
    }

    public async Task Clear()
    {
        await RemoveReminderAsync();
        if (state.RecordExists)
        {
            await state.ClearStateAsync();
        }
        _inFlight.Clear();
        _dropsUnsaved = false;
        DeactivateOnIdle();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ReminderName)
        {
            return;
        }
        _reminderArmed = true;
        if (State.Outbox.Count == 0)
        {
            await RemoveReminderAsync();
            return;
        }
        Pump();
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Outbox.Count > 0)
        {
            await EnsureReminderAsync();
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dropsUnsaved && state.RecordExists)
        {
            await WriteAsync();
        }
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    /// <summary>Hands every delivery that is due, first of its key and within the tenant's concurrency to the sender.</summary>
    private void Pump()
    {
        var now = clock.GetUtcNow();
        var heads = new HashSet<string>(StringComparer.Ordinal);
        if (_inFlight.ForgetLost(now) is > 0 and var lost)
        {
            LogReportsLost(logger, TenantId, lost);
        }
        var secrets = State.Secrets.Where(s => s.IsValid(now)).OrderByDescending(s => s.CreatedAt).Select(s => s.Secret).ToList();
        if (secrets.Count == 0)
        {
            return; // never unsigned: held until a secret is created (state from before the last one could not be deleted)
        }
        foreach (var delivery in State.Outbox)
        {
            if (_inFlight.Count >= _options.MaxConcurrentPerTenant)
            {
                break;
            }
            if (!heads.Add(delivery.OrderingKey) || _inFlight.Contains(delivery.Id) || delivery.NextAttemptAt > now)
            {
                continue;
            }
            _inFlight.Add(delivery.Id, now);
            sender.Start(TenantId, delivery.Id, delivery.Url, delivery.PayloadJson, secrets);
        }
        if (_inFlight.Count > 0)
        {
            // Keep the activation (and its in-flight set) while answers are due.
            DelayDeactivation(TimeSpan.FromMinutes(2));
        }
    }

    /// <summary>Writes the state; it carries the drops counted since the last write.</summary>
    private async Task WriteAsync()
    {
        await state.WriteStateAsync();
        _dropsUnsaved = false;
        _dropsSavedAt = clock.GetUtcNow();
    }

    private void Finish(DeliveryRecord delivery, DeliveryStatus status)
    {
        delivery.Status = status;
        delivery.NextAttemptAt = null;
        State.Outbox.Remove(delivery);
        State.Finished.Add(delivery);
        if (State.Finished.Count > _options.KeepFinished)
        {
            State.Finished.RemoveRange(0, State.Finished.Count - _options.KeepFinished);
        }
    }

    private SigningSecretCreated NewSecret(DateTimeOffset now)
    {
        // The previous secrets stay valid for the grace period, so receivers can switch without losing a delivery.
        foreach (var secret in State.Secrets.Where(s => s.ExpiresAt is null || s.ExpiresAt > now + _options.SecretGracePeriod))
        {
            secret.ExpiresAt = now + _options.SecretGracePeriod;
        }
        State.Secrets.RemoveAll(s => !s.IsValid(now));
        // At most five: rotating in a loop must not make every delivery carry dozens of signatures.
        while (State.Secrets.Count >= 5)
        {
            State.Secrets.RemoveAt(0);
        }
        var record = new SigningSecretRecord
        {
            Id = DeliveryIds.SecretIdPrefix + RandomNumberGenerator.GetHexString(16, lowercase: true),
            Secret = DeliveryIds.SecretPrefix + Tenancy.SecretKeys.RandomToken(),
            CreatedAt = now,
        };
        State.Secrets.Add(record);
        return new SigningSecretCreated { Id = record.Id, Secret = record.Secret, CreatedAt = now };
    }

    private WebhookSettingsView View(SigningSecretCreated? created)
    {
        var now = clock.GetUtcNow();
        return new WebhookSettingsView
        {
            Urls = State.Urls,
            Events = State.Events,
            SigningSecrets = State.Secrets.Where(s => s.IsValid(now)).Select(s => new SigningSecretInfo { Id = s.Id, CreatedAt = s.CreatedAt, ExpiresAt = s.ExpiresAt }).ToList(),
            NewSigningSecret = created,
            PendingDeliveries = State.Outbox.Count,
            DroppedEvents = State.Dropped,
        };
    }

    private async Task EnsureReminderAsync()
    {
        if (_reminderArmed)
        {
            return;
        }
        // Orleans' minimum period: retries are due at most a minute late, and a restart resumes within a minute.
        await this.RegisterOrUpdateReminder(ReminderName, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        _reminderArmed = true;
    }

    private async Task RemoveReminderAsync()
    {
        _reminderArmed = false;
        if (await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    [LoggerMessage(LogLevel.Warning, "The webhook outbox of tenant {Tenant} is full: {Recent} events dropped since the last report ({Dropped} so far)")]
    private static partial void LogDropped(ILogger logger, string tenant, long recent, long dropped);

    [LoggerMessage(LogLevel.Warning, "{Lost} webhook attempts of tenant {Tenant} never reported back; they will be sent again")]
    private static partial void LogReportsLost(ILogger logger, string tenant, int lost);

    [LoggerMessage(LogLevel.Warning, "Webhook delivery {Delivery} of tenant {Tenant} failed for good after {Attempts} attempts")]
    private static partial void LogGaveUp(ILogger logger, string tenant, string delivery, int attempts);
}
