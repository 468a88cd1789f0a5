-- Reminders read by due time. Orleans' reminder service re-reads every row of its silo's hash range every few minutes
-- but keeps only those whose next tick falls within its loading window; DueWindowReminderTable reads only those.
--  * NextDue is a lower bound of the row's next tick: StartTime whenever the row is (re-)registered, moved forward
--    (never past the next tick) by the range read for periodic rows whose StartTime is long gone, without changing
--    Version (the ETag).
--  * The index leads with a coarse hash bucket (1,024 of them) so one silo's range is a list of buckets, each read
--    from its earliest NextDue up to the horizon: the cost follows the rows due soon, not the rows in the range.

ALTER TABLE OrleansRemindersTable ADD COLUMN IF NOT EXISTS NextDue TIMESTAMPTZ;
UPDATE OrleansRemindersTable SET NextDue = StartTime WHERE NextDue IS NULL;
ALTER TABLE OrleansRemindersTable ALTER COLUMN NextDue SET NOT NULL;

CREATE INDEX IF NOT EXISTS IX_OrleansRemindersTable_DueBucket
    ON OrleansRemindersTable (ServiceId, (GrainHash >> 22), NextDue);

-- Any write that sets a row's schedule starts its NextDue over at StartTime: a trigger rather than a new upsert text,
-- because silos still running during a rolling upgrade keep the query texts they read at start-up and would otherwise
-- write rows without it, or re-register a row earlier than its old NextDue. The range read's own UPDATE changes only
-- NextDue, which this leaves alone.
CREATE OR REPLACE FUNCTION cg_reminder_next_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.StartTime IS DISTINCT FROM OLD.StartTime OR NEW.Period IS DISTINCT FROM OLD.Period
        OR NEW.Version IS DISTINCT FROM OLD.Version THEN
        NEW.NextDue := NEW.StartTime;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS cg_reminder_next_due ON OrleansRemindersTable;
CREATE TRIGGER cg_reminder_next_due BEFORE INSERT OR UPDATE ON OrleansRemindersTable
    FOR EACH ROW EXECUTE FUNCTION cg_reminder_next_due();
