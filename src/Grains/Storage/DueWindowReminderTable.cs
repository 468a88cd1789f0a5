using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Storage;

/// <summary>
/// The Orleans reminder table on PostgreSQL with a range read that returns only the rows due within
/// <see cref="ReminderDueWindow"/>'s horizon, through the due index of migration 0005. Every other call is the ADO.NET
/// provider's. The read also moves forward the lower-bound due time of periodic rows whose next tick is beyond the
/// horizon, so rows registered long ago with a long period are not read again every reload.
/// </summary>
public sealed partial class DueWindowReminderTable(
    IReminderTable inner, GridStorage storage, TimeProvider clock, string serviceId, TimeSpan horizon, TimeSpan skewMargin,
    ILogger<DueWindowReminderTable> logger) : IReminderTable
{
    // The next tick at time t as Orleans computes it (LocalReminderService.CalculateNextTickTime): StartTime while it is
    // ahead, else the first StartTime + k·Period at or after t. Period is in milliseconds; a non-positive one (which
    // Orleans refuses to schedule, and would fail the whole reload on) gives NULL, so that row is left out.
    private static string NextTick(string at) =>
        $"CASE WHEN StartTime >= {at} THEN StartTime ELSE StartTime + ceil(extract(epoch FROM {at} - StartTime) * 1000 / NULLIF(Period, 0)) * Period * interval '1 millisecond' END";

    private static string Sql(bool signedInterval)
    {
        var range = signedInterval ? "GrainHash > @BeginHash AND GrainHash <= @EndHash" : "(GrainHash > @BeginHash OR GrainHash <= @EndHash)";
        // The UPDATE runs to completion whether or not the SELECT reads it, and touches only rows the SELECT leaves out
        // (their next tick is beyond the horizon); it never changes Version, so no ETag a grain holds goes stale.
        return $"""
            WITH advanced AS (
                UPDATE OrleansRemindersTable SET NextDue = {NextTick("@Floor")}
                WHERE ServiceId = @ServiceId AND (GrainHash >> {ReminderDueWindow.BucketShift}) = ANY(@Buckets) AND NextDue < @Floor
                  AND {range} AND {NextTick("@Floor")} > @Until
                RETURNING 1)
            SELECT GrainId, ReminderName, StartTime, Period, Version
            FROM OrleansRemindersTable
            WHERE ServiceId = @ServiceId AND (GrainHash >> {ReminderDueWindow.BucketShift}) = ANY(@Buckets) AND NextDue <= @Until
              AND {range} AND {NextTick("@Now")} <= @Until
            """;
    }

    private static readonly string SignedIntervalSql = Sql(signedInterval: true);
    private static readonly string WrappingSql = Sql(signedInterval: false);

    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);

    public Task<ReminderTableData> ReadRows(GrainId grainId) => inner.ReadRows(grainId);

    public Task<ReminderTableData> ReadRows(uint begin, uint end) => ReadDueRows(begin, end, CancellationToken.None);

    public Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken) => ReadDueRows(begin, end, cancellationToken);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => inner.ReadRow(grainId, reminderName);

    public Task<string?> UpsertRow(ReminderEntry entry) => inner.UpsertRow(entry);

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => inner.RemoveRow(grainId, reminderName, eTag);

    public Task TestOnlyClearTable() => inner.TestOnlyClearTable();

    /// <summary>The rows of (begin, end] whose next tick is before now + horizon, now being the reminders' clock.</summary>
    public async Task<ReminderTableData> ReadDueRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection,
            ReminderDueWindow.IsSignedInterval(begin, end) ? SignedIntervalSql : WrappingSql,
            ("ServiceId", serviceId),
            ("Buckets", ReminderDueWindow.Buckets(begin, end)),
            ("BeginHash", (int)begin),
            ("EndHash", (int)end),
            ("Now", now),
            ("Until", now + horizon),
            // A due time is moved to the next tick after (now - margin): never past a tick a silo whose clock is behind
            // by less than the margin still waits for.
            ("Floor", now - skewMargin));
        var entries = new List<ReminderEntry>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                entries.Add(Entry(reader));
            }
        }
        LogRead(logger, begin, end, entries.Count);
        return new ReminderTableData(entries);
    }

    // As the ADO.NET provider builds an entry from a row (its GetReminderEntry).
    private static ReminderEntry Entry(DbDataReader reader) => new()
    {
        GrainId = GrainId.Parse(reader.GetString(0)),
        ReminderName = reader.GetString(1),
        StartAt = DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc),
        Period = TimeSpan.FromMilliseconds(reader.GetInt64(3)),
        ETag = reader.GetInt32(4).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [LoggerMessage(LogLevel.Debug, "Reminder range ({Begin}, {End}]: {Count} rows due within the window")]
    private static partial void LogRead(ILogger logger, uint begin, uint end, int count);
}
