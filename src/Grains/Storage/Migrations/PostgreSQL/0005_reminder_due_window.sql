-- Reminders read by due time. Orleans' reminder service re-reads every row of its silo's hash range every few minutes
-- but keeps only those whose next tick falls within its loading window; DueWindowReminderTable reads only those.
--  * NextDue is a lower bound of the row's next tick: StartTime when written, moved forward (never past the next
--    tick) by the range read for periodic rows whose StartTime is long gone. It never changes Version (the ETag).
--  * The index leads with a coarse hash bucket (1,024 of them) so one silo's range is a list of buckets, each read
--    from its earliest NextDue up to the horizon: the cost follows the rows due soon, not the rows in the range.

ALTER TABLE OrleansRemindersTable ADD COLUMN IF NOT EXISTS NextDue TIMESTAMPTZ;
UPDATE OrleansRemindersTable SET NextDue = StartTime WHERE NextDue IS NULL;
ALTER TABLE OrleansRemindersTable ALTER COLUMN NextDue SET NOT NULL;

CREATE INDEX IF NOT EXISTS IX_OrleansRemindersTable_DueBucket
    ON OrleansRemindersTable (ServiceId, (GrainHash >> 22), NextDue);

-- A registration (or re-registration) starts the row over: its first tick is StartTime.
INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpsertReminderRowKey', '
INSERT INTO OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version, NextDue)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0, @StartTime)
ON CONFLICT (ServiceId, GrainId, ReminderName) DO UPDATE
SET StartTime = excluded.StartTime, Period = excluded.Period, GrainHash = excluded.GrainHash, NextDue = excluded.NextDue,
    Version = OrleansRemindersTable.Version + 1
RETURNING Version;
') ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;
