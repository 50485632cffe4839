-- Event counts per UTC day and kind, kept current cheaply (0.4.0) for GET /v1/stats and the
-- bigbrotr_archive_events gauge of the api service, so that no request ever counts events.
--   event_stats        the folded counts, one row per (day, kind) with events.
--   event_stats_delta  insert-only: statement-level triggers on events add one row per (day, kind)
--                      per INSERT / DELETE / UPDATE statement (from its transition table: only rows
--                      really inserted count, so INSERT ... ON CONFLICT DO NOTHING duplicates add
--                      nothing). No row is ever updated here, so concurrent synchronizer workers never
--                      wait for one another on a counter row; the table has no index to maintain.
--   api_stats_fold()   moves the deltas into event_stats (the api coordinator calls it each cycle).
-- A reader sums event_stats and the deltas not yet folded in one snapshot, so its answer is exact
-- and current whenever the fold ran. TRUNCATE of events clears both (a statement trigger). Neither
-- table is a configuration table: pg_dump leaves them out, and restoring the events (COPY fires the
-- triggers) counts them again. The trigger functions are SECURITY INVOKER, like the finder queue's:
-- a role granted INSERT on events also needs INSERT on event_stats_delta.

-- The UTC day of a created_at (Unix seconds), rounded down (floor, also below 1970): days since
-- 1970-01-01. Never overflows, for any bigint.
CREATE FUNCTION bigbrotr.event_day(created_at bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN created_at >= 0 THEN created_at / 86400 ELSE (created_at + 1) / 86400 - 1 END $$;

CREATE TABLE bigbrotr.event_stats (
    day    bigint  NOT NULL,   -- bigbrotr.event_day(created_at)
    kind   integer NOT NULL,
    events bigint  NOT NULL,
    PRIMARY KEY (day, kind)
);
COMMENT ON TABLE bigbrotr.event_stats IS
    'events per UTC day (created_at / 86400, floor) and kind; add the unfolded rows of event_stats_delta';

CREATE TABLE bigbrotr.event_stats_delta (
    day    bigint  NOT NULL,
    kind   integer NOT NULL,
    events bigint  NOT NULL    -- negative for deletes
);
COMMENT ON TABLE bigbrotr.event_stats_delta IS
    'changes to event_stats not yet folded in by bigbrotr.api_stats_fold() (one row per (day, kind) per statement)';

CREATE FUNCTION bigbrotr.event_stats_inserted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO bigbrotr.event_stats_delta (day, kind, events)
    SELECT bigbrotr.event_day(n.created_at), n.kind, count(*) FROM new_rows n GROUP BY 1, 2;
    RETURN NULL;
END;
$$;

CREATE FUNCTION bigbrotr.event_stats_deleted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO bigbrotr.event_stats_delta (day, kind, events)
    SELECT bigbrotr.event_day(o.created_at), o.kind, -count(*) FROM old_rows o GROUP BY 1, 2;
    RETURN NULL;
END;
$$;

-- Events are immutable; an UPDATE by hand that changes created_at or kind moves its counts.
CREATE FUNCTION bigbrotr.event_stats_updated() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO bigbrotr.event_stats_delta (day, kind, events)
    SELECT d.day, d.kind, sum(d.n)
    FROM (SELECT bigbrotr.event_day(n.created_at) AS day, n.kind, 1 AS n FROM new_rows n
          UNION ALL
          SELECT bigbrotr.event_day(o.created_at), o.kind, -1 FROM old_rows o) AS d
    GROUP BY 1, 2
    HAVING sum(d.n) <> 0;
    RETURN NULL;
END;
$$;

CREATE FUNCTION bigbrotr.event_stats_truncated() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    TRUNCATE bigbrotr.event_stats, bigbrotr.event_stats_delta;
    RETURN NULL;
END;
$$;

-- PostgreSQL allows transition tables only on a trigger with one event: one trigger per event.
CREATE TRIGGER events_stats_insert AFTER INSERT ON bigbrotr.events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bigbrotr.event_stats_inserted();
CREATE TRIGGER events_stats_delete AFTER DELETE ON bigbrotr.events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bigbrotr.event_stats_deleted();
CREATE TRIGGER events_stats_update AFTER UPDATE ON bigbrotr.events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bigbrotr.event_stats_updated();
CREATE TRIGGER events_stats_truncate AFTER TRUNCATE ON bigbrotr.events
    FOR EACH STATEMENT EXECUTE FUNCTION bigbrotr.event_stats_truncated();

-- Folds every delta row into event_stats and returns how many delta rows it folded. Safe beside
-- inserts (they only add delta rows; the DELETE takes exactly the rows its snapshot sees, and a reader
-- sees either the deltas or their sum, never both) and beside itself: a second fold waits for the
-- first on the lock (SHARE ROW EXCLUSIVE conflicts with itself, not with readers or with the
-- triggers, which write only the delta table), then folds what came since. A (day, kind) whose count
-- reaches zero (every event deleted) is removed. Not for the api role: it writes.
CREATE FUNCTION bigbrotr.api_stats_fold() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows bigint;
    v_negative boolean;
BEGIN
    LOCK TABLE bigbrotr.event_stats IN SHARE ROW EXCLUSIVE MODE;
    WITH moved AS (
        DELETE FROM bigbrotr.event_stats_delta RETURNING day, kind, events
    ), summed AS (
        SELECT m.day, m.kind, sum(m.events)::bigint AS events, count(*) AS n, bool_or(m.events < 0) AS negative
        FROM moved m GROUP BY m.day, m.kind
    ), upserted AS (
        INSERT INTO bigbrotr.event_stats AS s (day, kind, events)
        SELECT x.day, x.kind, x.events FROM summed x WHERE x.events <> 0 ORDER BY x.day, x.kind
        ON CONFLICT (day, kind) DO UPDATE SET events = s.events + excluded.events
    )
    SELECT coalesce(sum(x.n), 0)::bigint, coalesce(bool_or(x.negative), false) INTO v_rows, v_negative FROM summed x;
    IF v_negative THEN
        DELETE FROM bigbrotr.event_stats s WHERE s.events <= 0;
    END IF;
    RETURN v_rows;
END;
$$;
