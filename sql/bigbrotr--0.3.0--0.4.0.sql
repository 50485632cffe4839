-- bigbrotr 0.3.0 -> 0.4.0 (ALTER EXTENSION bigbrotr UPDATE). What the api service needs:
--   * bigbrotr.event_stats (events per UTC day and kind) with the insert-only delta table, the
--     statement-level triggers on events that write it, and bigbrotr.api_stats_fold(); event_stats is
--     filled here from the existing events, in ONE scan of events. Writers of events wait from the
--     first statement until the update commits (the lock below), so no event is counted twice or
--     missed: stop the synchronizer first, or let it wait.
--   * the api functions (api_relays, api_relay, api_relay_history, api_relay_nip11, api_stats,
--     api_services, api_gauges) and the role bigbrotr_api (created when absent) with its grants.
-- No table is rewritten and no row of 0.3.0 changes. The result equals a fresh 0.4.0 install
-- (test/integration/upgrade.test.mjs compares the catalogs). The objects below are those of
-- sql/install/65_event_stats.sql and sql/install/70_api.sql, with the fill in between.
\echo Use "ALTER EXTENSION bigbrotr UPDATE" to load this file. \quit

-- SHARE ROW EXCLUSIVE waits for every open transaction that inserted or deleted events, and keeps
-- new ones out until the update commits: the fill below sees every event once.
LOCK TABLE bigbrotr.events IN SHARE ROW EXCLUSIVE MODE;

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

-- The fill: one scan of events at update time; from here on the triggers count.
INSERT INTO bigbrotr.event_stats (day, kind, events)
SELECT bigbrotr.event_day(e.created_at), e.kind, count(*) FROM bigbrotr.events e GROUP BY 1, 2 ORDER BY 1, 2;

-- The api service's SQL (0.4.0, docs/api.md "SQL the handlers call"): one jsonb per request, built
-- from the archive without a scan of events or events_relays (relays, snapshots and the stats tables
-- only; sql/11_api.sql shows the plans), and the role bigbrotr_api the api's read-only transactions
-- run as. Every function is SECURITY INVOKER with a pinned search_path: called as bigbrotr_api it
-- can read what the role may read and nothing else. Times are Unix seconds, ids lower-case hex.

-- The relay a handler names, in the one stored form; NULL when the URL is invalid (so: not found).
CREATE FUNCTION bigbrotr.api_relay_url(p_url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN c.valid THEN c.normalized END FROM bigbrotr.relay_url_check(p_url) c $$;

-- A stored NIP-11 document / NIP-66 result as the api shows it.
CREATE FUNCTION bigbrotr.api_nip11_object(n bigbrotr.nip11) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n.id IS NOT NULL THEN jsonb_build_object(
        'id', encode(n.id, 'hex'), 'name', n.name, 'description', n.description, 'banner', n.banner,
        'icon', n.icon, 'pubkey', n.pubkey, 'contact', n.contact, 'supported_nips', n.supported_nips,
        'software', n.software, 'version', n.version, 'privacy_policy', n.privacy_policy,
        'terms_of_service', n.terms_of_service, 'limitation', n.limitation, 'extra_fields', n.extra_fields) END
$$;

CREATE FUNCTION bigbrotr.api_nip66_object(n bigbrotr.nip66) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n.id IS NOT NULL THEN jsonb_build_object(
        'id', encode(n.id, 'hex'), 'openable', n.openable, 'readable', n.readable, 'writable', n.writable,
        'rtt_open', n.rtt_open, 'rtt_read', n.rtt_read, 'rtt_write', n.rtt_write,
        'auth_required', n.auth_required) END
$$;

-- A page size as the handlers pass it: NULL is api_default_limit's default (100); below 1 is refused.
CREATE FUNCTION bigbrotr.api_page_limit(p_limit integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_limit < 1 THEN
        RAISE EXCEPTION 'limit must be at least 1, got %', p_limit USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN coalesce(p_limit, 100);
END;
$$;

-- GET /v1/relays: relays in url order after p_after (the cursor: the last url of the previous page),
-- filtered by the latest check (NULL filters are off; readable/writable compare the newest snapshot's
-- NIP-66 result, so a relay never checked matches neither true nor false). next is the last url of
-- the page when more relays match, else null. Walks relays_pkey from p_after with one probe of the
-- newest snapshot per relay, and stops after p_limit + 1 matches.
CREATE FUNCTION bigbrotr.api_relays(p_network text, p_readable boolean, p_writable boolean,
    p_software text, p_nip integer, p_after text, p_limit integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_limit integer := bigbrotr.api_page_limit(p_limit);
    v_result jsonb;
BEGIN
    SELECT jsonb_build_object(
               'relays', coalesce(jsonb_agg(p.relay ORDER BY p.url) FILTER (WHERE p.n <= v_limit), '[]'::jsonb),
               'next', CASE WHEN count(*) > v_limit THEN max(p.url) FILTER (WHERE p.n <= v_limit) END)
    INTO v_result
    FROM (SELECT r.url, row_number() OVER (ORDER BY r.url) AS n,
                 jsonb_build_object(
                     'url', r.url, 'network', r.network, 'inserted_at', r.inserted_at,
                     'checked_at', r.generated_at, 'openable', r.openable, 'readable', r.readable,
                     'writable', r.writable, 'rtt_open', r.rtt_open, 'rtt_read', r.rtt_read,
                     'rtt_write', r.rtt_write, 'auth_required', r.auth_required,
                     'name', r.name, 'software', r.software, 'version', r.version,
                     'supported_nips', r.supported_nips) AS relay
          -- The newest snapshot with its documents in one LATERAL with LIMIT 1, so that every join is
          -- a nested loop on the walk of relays_pkey and the outer LIMIT ends the walk (joining the
          -- documents outside it let the planner hash them and sort every relay after the cursor).
          FROM (SELECT r.url, r.network, r.inserted_at, l.*
                FROM bigbrotr.relays r
                LEFT JOIN LATERAL (
                    SELECT rm.generated_at, n66.openable, n66.readable, n66.writable, n66.rtt_open, n66.rtt_read,
                           n66.rtt_write, n66.auth_required, n11.name, n11.software, n11.version, n11.supported_nips
                    FROM bigbrotr.relay_metadata rm
                    LEFT JOIN bigbrotr.nip66 n66 ON n66.id = rm.nip66_id
                    LEFT JOIN bigbrotr.nip11 n11 ON n11.id = rm.nip11_id
                    WHERE rm.relay_url = r.url
                    ORDER BY rm.generated_at DESC
                    LIMIT 1) l ON true
                WHERE r.url > coalesce(p_after, '')
                  AND (p_network IS NULL OR r.network = p_network)
                  AND (p_readable IS NULL OR l.readable = p_readable)
                  AND (p_writable IS NULL OR l.writable = p_writable)
                  AND (p_software IS NULL OR l.software = p_software)
                  AND (p_nip IS NULL OR l.supported_nips @> jsonb_build_array(p_nip))
                ORDER BY r.url
                LIMIT v_limit + 1) r) p;
    RETURN v_result;
END;
$$;

-- GET /v1/relays/{url}: the relay with its newest snapshot's documents; NULL for an unknown relay.
CREATE FUNCTION bigbrotr.api_relay(p_url text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('url', r.url, 'network', r.network, 'inserted_at', r.inserted_at,
                              'checked_at', m.generated_at,
                              'nip11', bigbrotr.api_nip11_object(n11), 'nip66', bigbrotr.api_nip66_object(n66))
    FROM bigbrotr.relays r
    LEFT JOIN LATERAL (
        SELECT rm.generated_at, rm.nip11_id, rm.nip66_id FROM bigbrotr.relay_metadata rm
        WHERE rm.relay_url = r.url ORDER BY rm.generated_at DESC LIMIT 1) m ON true
    LEFT JOIN bigbrotr.nip11 n11 ON n11.id = m.nip11_id
    LEFT JOIN bigbrotr.nip66 n66 ON n66.id = m.nip66_id
    WHERE r.url = bigbrotr.api_relay_url(p_url)
$$;

-- GET /v1/relays/{url}/history: the relay's snapshots newest first, since <= generated_at <= until
-- (NULL: open) and generated_at < p_before (the cursor: the last generated_at of the previous page;
-- NULL: from the newest). NIP-66 fields are null for a snapshot without a NIP-66 result. next is the
-- last generated_at of the page when more match, else null. NULL for an unknown relay. A backward
-- range scan of relay_metadata_pkey that stops after p_limit + 1 rows.
CREATE FUNCTION bigbrotr.api_relay_history(p_url text, p_since bigint, p_until bigint, p_before bigint,
    p_limit integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_url text := bigbrotr.api_relay_url(p_url);
    v_limit integer := bigbrotr.api_page_limit(p_limit);
    v_lo bigint := coalesce(p_since, '-9223372036854775808'::bigint);
    v_hi bigint := coalesce(p_until, '9223372036854775807'::bigint);
    v_result jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM bigbrotr.relays r WHERE r.url = v_url) THEN
        RETURN NULL;
    END IF;
    IF p_before IS NOT NULL THEN
        IF p_before = '-9223372036854775808'::bigint THEN
            v_lo := '9223372036854775807'::bigint;   -- nothing is below it: an empty window
            v_hi := p_before;
        ELSE
            v_hi := least(v_hi, p_before - 1);
        END IF;
    END IF;
    SELECT jsonb_build_object(
               'relay', v_url,
               'history', coalesce(jsonb_agg(h.entry ORDER BY h.generated_at DESC) FILTER (WHERE h.n <= v_limit), '[]'::jsonb),
               'next', CASE WHEN count(*) > v_limit THEN (min(h.generated_at) FILTER (WHERE h.n <= v_limit))::text END)
    INTO v_result
    FROM (SELECT s.generated_at, row_number() OVER (ORDER BY s.generated_at DESC) AS n,
                 jsonb_build_object('generated_at', s.generated_at, 'openable', n66.openable,
                                    'readable', n66.readable, 'writable', n66.writable, 'rtt_open', n66.rtt_open,
                                    'rtt_read', n66.rtt_read, 'rtt_write', n66.rtt_write,
                                    'auth_required', n66.auth_required) AS entry
          FROM (SELECT m.generated_at, m.nip66_id FROM bigbrotr.relay_metadata m
                WHERE m.relay_url = v_url AND m.generated_at >= v_lo AND m.generated_at <= v_hi
                ORDER BY m.generated_at DESC
                LIMIT v_limit + 1) s
          LEFT JOIN bigbrotr.nip66 n66 ON n66.id = s.nip66_id) h;
    RETURN v_result;
END;
$$;

-- GET /v1/relays/{url}/nip11: each distinct NIP-11 document the relay served, with the generated_at
-- of its first and last snapshot and how many snapshots carried it, newest last_seen first.
-- NULL for an unknown relay. Reads the relay's snapshots through relay_metadata_pkey.
CREATE FUNCTION bigbrotr.api_relay_nip11(p_url text) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('relay', r.url, 'documents', coalesce((
        SELECT jsonb_agg(jsonb_build_object('id', encode(d.nip11_id, 'hex'), 'first_seen', d.first_seen,
                                            'last_seen', d.last_seen, 'snapshots', d.snapshots,
                                            'document', bigbrotr.api_nip11_object(n11))
                         ORDER BY d.last_seen DESC, d.nip11_id)
        FROM (SELECT m.nip11_id, min(m.generated_at) AS first_seen, max(m.generated_at) AS last_seen,
                     count(*) AS snapshots
              FROM bigbrotr.relay_metadata m
              WHERE m.relay_url = r.url AND m.nip11_id IS NOT NULL
              GROUP BY m.nip11_id) d
        JOIN bigbrotr.nip11 n11 ON n11.id = d.nip11_id), '[]'::jsonb))
    FROM bigbrotr.relays r
    WHERE r.url = bigbrotr.api_relay_url(p_url)
$$;

-- events_relays' row count as the planner estimates it (pg_class.reltuples scaled to the table's
-- current size, as the planner does): no scan. 0 before the table was ever analyzed or vacuumed.
CREATE FUNCTION bigbrotr.sightings_estimate() RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN c.relpages > 0 AND c.reltuples >= 0
                THEN round(c.reltuples::numeric / c.relpages
                           * (pg_relation_size(c.oid) / current_setting('block_size')::bigint))::bigint
                ELSE greatest(c.reltuples, 0)::bigint END
    FROM pg_class c WHERE c.oid = 'bigbrotr.events_relays'::regclass
$$;

-- GET /v1/stats. events: the sum of event_stats and the unfolded deltas (exact, current); relays:
-- count(*) of relays (a small table); sightings: sightings_estimate() (approximate); by_kind: every
-- kind with events, largest first (then kind); by_day: the days of the last p_days UTC days up to
-- today (today included; future days are not shown) that have events, newest first, as 'YYYY-MM-DD'.
-- p_days NULL is 30; it must be 1..3650.
CREATE FUNCTION bigbrotr.api_stats(p_days integer) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_days integer := coalesce(p_days, 30);
    v_today bigint := bigbrotr.event_day(floor(extract(epoch FROM now()))::bigint);
    v_by_kind jsonb;
    v_events bigint;
    v_by_day jsonb;
BEGIN
    IF v_days NOT BETWEEN 1 AND 3650 THEN
        RAISE EXCEPTION 'days must be 1..3650, got %', v_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', k.kind, 'events', k.events) ORDER BY k.events DESC, k.kind),
                    '[]'::jsonb),
           coalesce(sum(k.events), 0)::bigint
    INTO v_by_kind, v_events
    FROM (SELECT s.kind, sum(s.events)::bigint AS events
          FROM (SELECT st.kind, st.events FROM bigbrotr.event_stats st
                UNION ALL
                SELECT d.kind, d.events FROM bigbrotr.event_stats_delta d) s
          GROUP BY s.kind HAVING sum(s.events) <> 0) k;
    SELECT coalesce(jsonb_agg(jsonb_build_object('day', to_char(date '1970-01-01' + y.day::integer, 'YYYY-MM-DD'),
                                                 'events', y.events) ORDER BY y.day DESC), '[]'::jsonb)
    INTO v_by_day
    FROM (SELECT s.day, sum(s.events)::bigint AS events
          FROM (SELECT st.day, st.events FROM bigbrotr.event_stats st
                WHERE st.day > v_today - v_days AND st.day <= v_today
                UNION ALL
                SELECT d.day, d.events FROM bigbrotr.event_stats_delta d
                WHERE d.day > v_today - v_days AND d.day <= v_today) s
          GROUP BY s.day HAVING sum(s.events) <> 0) y;
    RETURN jsonb_build_object('events', v_events,
                              'relays', (SELECT count(*) FROM bigbrotr.relays),
                              'sightings', bigbrotr.sightings_estimate(),
                              'sightings_approximate', true,
                              'by_kind', v_by_kind,
                              'by_day', v_by_day);
END;
$$;

-- GET /v1/services: bigbrotr_status() as JSON, times as Unix seconds (integers), the last cycle's
-- duration in seconds (a number with its fraction).
CREATE FUNCTION bigbrotr.api_services() RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('services', coalesce(jsonb_agg(jsonb_build_object(
        'name', s.name, 'lifecycle', s.lifecycle, 'enabled', s.enabled, 'running', s.running, 'pid', s.pid,
        'started_at', floor(extract(epoch FROM s.started_at))::bigint,
        'cycles_run', s.cycles_run, 'cycles_failed', s.cycles_failed,
        'last_cycle_start', floor(extract(epoch FROM s.last_cycle_start))::bigint,
        'last_cycle_end', floor(extract(epoch FROM s.last_cycle_end))::bigint,
        'last_cycle_duration', extract(epoch FROM s.last_cycle_duration),
        'last_error', s.last_error, 'last_cycle_stats', s.last_cycle_stats) ORDER BY s.name), '[]'::jsonb))
    FROM @extschema@.bigbrotr_status() s
$$;

-- GET /metrics' gauges: the archive's (events exact from the stats, relays exact, sightings
-- estimated) and, per service, cycles_total, cycles_failed_total, running (0 or 1) and
-- last_cycle_duration_seconds (only once a cycle ended). labels is '' or service="<name>".
CREATE FUNCTION bigbrotr.api_gauges(OUT name text, OUT labels text, OUT value double precision)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.name, g.labels, g.value FROM (
        SELECT 'bigbrotr_archive_events' AS name, '' AS labels,
               ((SELECT coalesce(sum(st.events), 0) FROM bigbrotr.event_stats st)
                + (SELECT coalesce(sum(d.events), 0) FROM bigbrotr.event_stats_delta d))::double precision AS value
        UNION ALL
        SELECT 'bigbrotr_archive_relays', '', (SELECT count(*) FROM bigbrotr.relays)::double precision
        UNION ALL
        SELECT 'bigbrotr_archive_sightings', '', bigbrotr.sightings_estimate()::double precision
        UNION ALL
        SELECT v.name, format('service="%s"', s.name), v.value
        FROM @extschema@.bigbrotr_status() s,
             LATERAL (VALUES ('bigbrotr_service_cycles_total', s.cycles_run::double precision),
                             ('bigbrotr_service_cycles_failed_total', s.cycles_failed::double precision),
                             ('bigbrotr_service_last_cycle_duration_seconds',
                              extract(epoch FROM s.last_cycle_duration)::double precision),
                             ('bigbrotr_service_running', CASE WHEN s.running THEN 1 ELSE 0 END::double precision))
                     AS v(name, value)
        WHERE v.value IS NOT NULL) g
    ORDER BY g.name, g.labels
$$;

-- The role the api's read-only transactions run as (SET ROLE from the api workers). NOLOGIN: nobody
-- logs in as it. A role is cluster-wide, not a member of the extension: created here when absent
-- (one created beforehand by an administrator is used as it is), kept by DROP EXTENSION (which drops
-- the grants below with the objects) and shared by every database of the cluster with the extension.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'bigbrotr_api') THEN
        CREATE ROLE bigbrotr_api NOLOGIN;
    END IF;
END
$$;

-- What it may do: read the archive, call the api functions and bigbrotr_status(). Nothing that
-- writes: no INSERT, UPDATE, DELETE or TRUNCATE anywhere, no EXECUTE on bigbrotr_start/stop or
-- api_stats_fold; the insert and delete procedures are SECURITY INVOKER, so called as this role they
-- fail on the first table they touch (test/pgtap/06_api_role.sql tries every one).
GRANT USAGE ON SCHEMA bigbrotr TO bigbrotr_api;
GRANT SELECT ON TABLE bigbrotr.events, bigbrotr.events_relays, bigbrotr.relays, bigbrotr.nip11, bigbrotr.nip66,
    bigbrotr.relay_metadata, bigbrotr.relay_metadata_latest, bigbrotr.event_stats, bigbrotr.event_stats_delta
    TO bigbrotr_api;
GRANT EXECUTE ON FUNCTION bigbrotr.api_relays(text, boolean, boolean, text, integer, text, integer),
    bigbrotr.api_relay(text), bigbrotr.api_relay_history(text, bigint, bigint, bigint, integer),
    bigbrotr.api_relay_nip11(text), bigbrotr.api_stats(integer), bigbrotr.api_services(),
    bigbrotr.api_gauges(), @extschema@.bigbrotr_status() TO bigbrotr_api;
-- api_services and api_gauges call bigbrotr_status() in the extension's schema: the role needs USAGE
-- on it. PUBLIC has it on schema public (the usual one), so this grants nothing there.
DO $$
BEGIN
    IF NOT pg_catalog.has_schema_privilege('bigbrotr_api', '@extschema@'::regnamespace, 'USAGE') THEN
        GRANT USAGE ON SCHEMA @extschema@ TO bigbrotr_api;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION bigbrotr.api_stats_fold() FROM PUBLIC;
REVOKE ALL ON TABLE bigbrotr.event_stats, bigbrotr.event_stats_delta FROM PUBLIC;
