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
