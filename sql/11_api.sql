-- The api's SQL (0.4.0): event_stats kept current by the statement-level triggers and the fold,
-- checked against a count of events after every kind of write; each api_* function's exact answer
-- on fixed data; that no api function reads events or events_relays (the transaction's scan
-- counters); and the plans of their statements (EXPLAIN (COSTS OFF) of the statements as the
-- functions run them, generic plans with parameters). Starts from a fresh extension: DROP EXTENSION
-- leaves the cluster-wide role bigbrotr_api, and CREATE EXTENSION takes it as it is.
SET client_min_messages = warning;
DROP EXTENSION bigbrotr;
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'bigbrotr_api';
CREATE EXTENSION bigbrotr;
SET search_path = bigbrotr, public;

-- The stats against the truth: (day, kind) counts of event_stats plus the deltas, and of events.
CREATE FUNCTION pg_temp.stats_check() RETURNS TABLE (events bigint, cells bigint, differ bigint)
LANGUAGE sql AS $$
    WITH s AS (SELECT day, kind, sum(events) AS n FROM (SELECT * FROM bigbrotr.event_stats
                                                        UNION ALL SELECT * FROM bigbrotr.event_stats_delta) u
               GROUP BY 1, 2 HAVING sum(events) <> 0),
         t AS (SELECT bigbrotr.event_day(created_at) AS day, kind, count(*) AS n FROM bigbrotr.events GROUP BY 1, 2)
    SELECT (SELECT count(*) FROM bigbrotr.events), (SELECT count(*) FROM t),
           (SELECT count(*) FROM s FULL JOIN t USING (day, kind) WHERE s.n IS DISTINCT FROM t.n)
$$;

-- A day is created_at / 86400 rounded down, also before 1970, for every bigint.
SELECT c, event_day(c) FROM unnest(ARRAY[0, 86399, 86400, -1, -86400, -86401,
    '9223372036854775807'::bigint, '-9223372036854775808'::bigint]) AS c;

-- 600 events over 3 days and 4 kinds through insert_events (batches of 200), then the same ids again
-- with 50 new ones (ON CONFLICT DO NOTHING: only the 50 count), one insert_event, one repeated.
SELECT sum(insert_events(ids, array_fill(sha256('\xa1'), ARRAY[n]), cs, ks, array_fill('[]'::jsonb, ARRAY[n]),
                         array_fill('x'::text, ARRAY[n]), array_fill(decode(repeat('b1', 64), 'hex'), ARRAY[n]),
                         array_fill('wss://stats.example'::text, ARRAY[n]), array_fill(NULL::text, ARRAY[n]),
                         array_fill(1::bigint, ARRAY[n]), array_fill(2::bigint, ARRAY[n]))) AS new_events
FROM (SELECT i / 200 AS b, array_agg(sha256(int8send(i)) ORDER BY i) AS ids,
             array_agg(1700006400 + (i % 3) * 86400 + i ORDER BY i) AS cs, array_agg((ARRAY[1, 1, 7, 30023])[1 + i % 4] ORDER BY i) AS ks,
             count(*)::int AS n
      FROM generate_series(0, 599) i GROUP BY 1) batches;
SELECT * FROM pg_temp.stats_check();
SELECT count(*) AS delta_rows FROM event_stats_delta;
SELECT insert_events(array_agg(sha256(int8send(i)) ORDER BY i), array_fill(sha256('\xa1'), ARRAY[650]),
                     array_agg(1700006400 + (i % 3) * 86400 + i ORDER BY i), array_agg((ARRAY[1, 1, 7, 30023])[1 + i % 4] ORDER BY i),
                     array_fill('[]'::jsonb, ARRAY[650]), array_fill('x'::text, ARRAY[650]),
                     array_fill(decode(repeat('b1', 64), 'hex'), ARRAY[650]), array_fill('wss://stats2.example'::text, ARRAY[650]),
                     array_fill(NULL::text, ARRAY[650]), array_fill(1::bigint, ARRAY[650]), array_fill(3::bigint, ARRAY[650]))
       AS new_of_650
FROM generate_series(0, 649) i;
SELECT insert_event(sha256('\x01'), sha256('\xa1'), -5, 3, '[]', 'y', decode(repeat('b1', 64), 'hex'), 'wss://stats.example', NULL, 1, 2);
SELECT insert_event(sha256('\x01'), sha256('\xa1'), -5, 3, '[]', 'y', decode(repeat('b1', 64), 'hex'), 'wss://stats3.example', NULL, 1, 2);
SELECT * FROM pg_temp.stats_check();
-- Sightings of known events change no count.
SELECT cardinality(insert_sightings(ARRAY[sha256(int8send(1)), sha256(int8send(2))], 'wss://stats4.example', NULL, 1, 9)) AS missing;
SELECT count(*) AS delta_rows FROM event_stats_delta;
-- The fold moves every delta row, keeps the sums, and a second fold has nothing to do.
SELECT api_stats_fold() AS folded;
SELECT api_stats_fold() AS folded_again;
SELECT count(*) AS delta_rows, (SELECT count(*) FROM event_stats) AS stats_rows FROM event_stats_delta;
SELECT * FROM pg_temp.stats_check();
-- Deletes: delete_events, then delete_orphan_events (events whose sightings were removed by hand).
SELECT * FROM delete_events(ARRAY[sha256(int8send(0)), sha256(int8send(3)), sha256('\x01'), sha256('\x99')]);
DELETE FROM events_relays WHERE event_id IN (sha256(int8send(4)), sha256(int8send(5)), sha256(int8send(6)));
SELECT delete_orphan_events() AS orphans_deleted;
SELECT * FROM pg_temp.stats_check();
-- An UPDATE by hand that moves events to another day and kind moves their counts.
UPDATE events SET created_at = created_at + 10 * 86400, kind = 9 WHERE id IN (sha256(int8send(7)), sha256(int8send(8)));
UPDATE events SET content = 'z' WHERE id = sha256(int8send(9));
SELECT * FROM pg_temp.stats_check();
-- A day whose every event is deleted leaves no row once folded.
SELECT * FROM delete_events(ARRAY[sha256(int8send(7)), sha256(int8send(8))]);
SELECT api_stats_fold() > 0 AS folded;
SELECT count(*) AS kind_9_rows FROM event_stats WHERE kind = 9;
SELECT * FROM pg_temp.stats_check();
-- The fold and the triggers in one transaction, and a rolled-back insert that counts nothing.
BEGIN;
SELECT insert_event(sha256('\x02'), sha256('\xa1'), 1700000000, 1, '[]', 'y', decode(repeat('b1', 64), 'hex'), 'wss://stats.example', NULL, 1, 2);
SELECT api_stats_fold() AS folded;
ROLLBACK;
SELECT * FROM pg_temp.stats_check();
-- TRUNCATE clears the stats (a statement trigger); inserts count again after it.
TRUNCATE events;
SELECT count(*) AS stats_rows, (SELECT count(*) FROM event_stats_delta) AS delta_rows FROM event_stats;
SELECT insert_event(sha256('\x03'), sha256('\xa1'), 1700000000, 1, '[]', 'y', decode(repeat('b1', 64), 'hex'), 'wss://stats.example', NULL, 1, 2);
SELECT * FROM pg_temp.stats_check();
TRUNCATE events_relays, events, relays CASCADE;
SELECT api_stats_fold(), (SELECT count(*) FROM event_stats) AS stats_rows;

-- Fixed data for the api functions. Events: by kind 1 (3), 7 (2), 0 (1) on two fixed days, and events of
-- today and of 2 and 40 days ago (by_day of the last 3 days shows today's and two days ago's).
SELECT insert_events(ARRAY[sha256('\x11'), sha256('\x12'), sha256('\x13'), sha256('\x14'), sha256('\x15'), sha256('\x16')],
                     array_fill(sha256('\xa1'), ARRAY[6]), ARRAY[1600000000, 1600000001, 1600086400, 1600086401, 1600000002, 1600000003]::bigint[],
                     ARRAY[1, 1, 1, 7, 7, 0], array_fill('[]'::jsonb, ARRAY[6]), array_fill('x'::text, ARRAY[6]),
                     array_fill(decode(repeat('b1', 64), 'hex'), ARRAY[6]), array_fill('wss://a.api.example'::text, ARRAY[6]),
                     array_fill(NULL::text, ARRAY[6]), array_fill(1::bigint, ARRAY[6]), array_fill(2::bigint, ARRAY[6]));
SELECT api_stats_fold();
SELECT insert_events(ARRAY[sha256('\x21'), sha256('\x22'), sha256('\x23'), sha256('\x24')], array_fill(sha256('\xa1'), ARRAY[4]),
                     ARRAY[now_s, now_s - 2 * 86400, now_s - 2 * 86400, now_s - 40 * 86400], ARRAY[1, 1, 7, 1],
                     array_fill('[]'::jsonb, ARRAY[4]), array_fill('x'::text, ARRAY[4]),
                     array_fill(decode(repeat('b1', 64), 'hex'), ARRAY[4]), array_fill('wss://b.api.example'::text, ARRAY[4]),
                     array_fill(NULL::text, ARRAY[4]), array_fill(1::bigint, ARRAY[4]), array_fill(2::bigint, ARRAY[4]))
FROM (SELECT floor(extract(epoch FROM now()))::bigint AS now_s) n;
-- Relays: a checked readable clearnet relay with two snapshots (a NIP-11 document that changed and came
-- back), a tor relay checked unreadable, a relay never checked, and a relay whose last snapshot has no
-- NIP-66 result.
SELECT insert_relay_metadata_batch(jsonb_build_array(
    jsonb_build_object('relay_url', 'wss://a.api.example', 'network', 'clearnet', 'inserted_at', 10, 'generated_at', 100,
        'nip66', jsonb_build_object('openable', true, 'readable', true, 'writable', false, 'rtt_open', 40, 'rtt_read', 50),
        'nip11', jsonb_build_object('name', 'A', 'software', 'strfry', 'version', '1.0', 'supported_nips', '[1, 11, 45]'::jsonb)),
    jsonb_build_object('relay_url', 'wss://a.api.example', 'network', 'clearnet', 'inserted_at', 10, 'generated_at', 200,
        'nip66', jsonb_build_object('openable', true, 'readable', true, 'writable', true, 'rtt_open', 41, 'rtt_read', 51,
                                    'rtt_write', 61, 'auth_required', false),
        'nip11', jsonb_build_object('name', 'A2', 'software', 'strfry', 'version', '1.1', 'supported_nips', '[1, 11, 45, 77]'::jsonb,
                                    'limitation', '{"max_limit": 500}'::jsonb)),
    jsonb_build_object('relay_url', 'wss://a.api.example', 'network', 'clearnet', 'inserted_at', 10, 'generated_at', 300,
        'nip66', jsonb_build_object('openable', true, 'readable', true, 'writable', true, 'rtt_open', 42, 'rtt_read', 52,
                                    'rtt_write', 62, 'auth_required', false),
        'nip11', jsonb_build_object('name', 'A', 'software', 'strfry', 'version', '1.0', 'supported_nips', '[1, 11, 45]'::jsonb)),
    jsonb_build_object('relay_url', 'ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', 'network', 'tor', 'inserted_at', 11, 'generated_at', 150,
        'nip66', jsonb_build_object('openable', true, 'readable', false, 'writable', false, 'rtt_open', 900),
        'nip11', jsonb_build_object('name', 'T', 'software', 'nostr-rs-relay', 'supported_nips', '[1, 2]'::jsonb)),
    jsonb_build_object('relay_url', 'wss://c.api.example', 'network', 'clearnet', 'inserted_at', 12, 'generated_at', 120,
        'nip66', jsonb_build_object('openable', false, 'readable', false, 'writable', false)),
    jsonb_build_object('relay_url', 'wss://c.api.example', 'network', 'clearnet', 'inserted_at', 12, 'generated_at', 180,
        'nip66', NULL, 'nip11', jsonb_build_object('name', 'C', 'software', 'strfry'))));
SELECT insert_relay('wss://d.api.example', NULL, 13);

-- api_relays: all, in url order; the filters; pagination by the last url.
SELECT jsonb_pretty(api_relays(NULL, NULL, NULL, NULL, NULL, NULL, NULL));
SELECT f, api_relays(n, r, w, s, nip, NULL, NULL)->'relays' @? '$[*]' AS any,
       (SELECT array_agg(x->>'url') FROM jsonb_array_elements(api_relays(n, r, w, s, nip, NULL, NULL)->'relays') x) AS urls
FROM (VALUES ('tor', 'tor', NULL::boolean, NULL::boolean, NULL, NULL::integer),
             ('clearnet', 'clearnet', NULL, NULL, NULL, NULL),
             ('readable', NULL, true, NULL, NULL, NULL),
             ('not readable', NULL, false, NULL, NULL, NULL),
             ('writable', NULL, NULL, true, NULL, NULL),
             ('strfry', NULL, NULL, NULL, 'strfry', NULL),
             ('nip 2', NULL, NULL, NULL, NULL, 2),
             ('nip 45 readable', NULL, true, NULL, NULL, 45),
             ('nip 77', NULL, NULL, NULL, NULL, 77),
             ('no match', 'tor', true, NULL, NULL, NULL)) AS t(f, n, r, w, s, nip);
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, NULL, 2) - 'relays' AS page1_next,
       (SELECT array_agg(x->>'url') FROM jsonb_array_elements(api_relays(NULL, NULL, NULL, NULL, NULL, NULL, 2)->'relays') x) AS page1;
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, 'wss://c.api.example', 2) - 'relays' AS page2_next,
       (SELECT array_agg(x->>'url') FROM jsonb_array_elements(api_relays(NULL, NULL, NULL, NULL, NULL, 'wss://c.api.example', 2)->'relays') x) AS page2;
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, 'wss://d.api.example', 2);
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, NULL, 4) -> 'next' AS exactly_all_next;
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, NULL, 0);

-- api_relay: the newest snapshot with its documents; a relay never checked; the URL in any spelling;
-- unknown and invalid URLs are NULL.
SELECT jsonb_pretty(api_relay('wss://a.api.example'));
SELECT api_relay('wss://c.api.example');
SELECT api_relay('wss://d.api.example');
SELECT api_relay('WSS://A.Api.Example:443/') = api_relay('wss://a.api.example') AS any_spelling;
SELECT api_relay('wss://nobody.api.example') IS NULL AS unknown, api_relay('not a url') IS NULL AS invalid,
       api_relay(NULL) IS NULL AS null_url;

-- api_relay_history: newest first; since/until; pages by the cursor p_before; a snapshot without NIP-66.
SELECT jsonb_pretty(api_relay_history('wss://a.api.example', NULL, NULL, NULL, NULL));
SELECT api_relay_history('wss://a.api.example', NULL, NULL, NULL, 2) - 'history' AS page1,
       jsonb_path_query_array(api_relay_history('wss://a.api.example', NULL, NULL, NULL, 2), '$.history[*].generated_at') AS at1;
SELECT api_relay_history('wss://a.api.example', NULL, NULL, 200, 2) - 'history' AS page2,
       jsonb_path_query_array(api_relay_history('wss://a.api.example', NULL, NULL, 200, 2), '$.history[*].generated_at') AS at2;
SELECT jsonb_path_query_array(api_relay_history('wss://a.api.example', 150, 250, NULL, NULL), '$.history[*].generated_at') AS window,
       jsonb_path_query_array(api_relay_history('wss://a.api.example', 100, 300, 300, NULL), '$.history[*].generated_at') AS before_300,
       api_relay_history('wss://a.api.example', NULL, NULL, '-9223372036854775808', NULL) AS below_everything;
SELECT api_relay_history('wss://c.api.example', NULL, NULL, NULL, NULL);
SELECT api_relay_history('wss://d.api.example', NULL, NULL, NULL, NULL);
SELECT api_relay_history('wss://nobody.api.example', NULL, NULL, NULL, NULL) IS NULL AS unknown;

-- api_relay_nip11: each distinct document with first/last seen and snapshot count, newest last_seen first.
SELECT jsonb_pretty(api_relay_nip11('wss://a.api.example'));
SELECT api_relay_nip11('wss://d.api.example');
SELECT api_relay_nip11('wss://nobody.api.example') IS NULL AS unknown;

-- api_stats: totals, by kind (largest first), by day (the last p_days UTC days, newest first).
ANALYZE events_relays;
SELECT api_stats(3) - 'by_day' AS stats,
       jsonb_path_query_array(api_stats(3), '$.by_day[*].events') AS by_day_events,
       jsonb_path_query_array(api_stats(3), '$.by_day[*].day')
         = jsonb_build_array(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                             to_char((now() - interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD')) AS by_day_days;
SELECT jsonb_array_length(api_stats(NULL)->'by_day') AS days_30, jsonb_array_length(api_stats(41)->'by_day') AS days_41,
       jsonb_array_length(api_stats(1)->'by_day') AS days_1, (SELECT count(*) FROM events_relays) AS sightings;
SELECT api_stats(0);
SELECT api_stats(3651);

-- api_services and api_gauges: every service, in name order, nothing started here.
SELECT jsonb_pretty(api_services()->'services'->0);
SELECT jsonb_path_query_array(api_services(), '$.services[*].name') AS services;
SELECT * FROM api_gauges();

-- No api function reads events or events_relays: the transaction's scan counters of both stay 0.
BEGIN;
CREATE TEMP TABLE scans_before AS SELECT relid, seq_scan, idx_scan FROM pg_stat_xact_user_tables
    WHERE relid IN ('events'::regclass, 'events_relays'::regclass);
SELECT api_relays(NULL, NULL, NULL, NULL, NULL, NULL, NULL) IS NOT NULL, api_relays('clearnet', true, true, 'strfry', 45, 'wss://a', 1) IS NOT NULL,
       api_relay('wss://a.api.example') IS NOT NULL, api_relay_history('wss://a.api.example', NULL, NULL, NULL, NULL) IS NOT NULL,
       api_relay_nip11('wss://a.api.example') IS NOT NULL, api_stats(30) IS NOT NULL, api_services() IS NOT NULL,
       (SELECT count(*) FROM api_gauges()) > 0;
SELECT a.relname, a.seq_scan - b.seq_scan AS seq_scans, a.idx_scan - b.idx_scan AS index_scans
FROM pg_stat_xact_user_tables a JOIN scans_before b USING (relid) ORDER BY a.relname;
-- (and the counters do count: a lookup of one event is an index scan)
SELECT count(*) FROM events WHERE id = sha256('\x11');
SELECT a.relname, a.seq_scan - b.seq_scan AS seq_scans, a.idx_scan - b.idx_scan AS index_scans
FROM pg_stat_xact_user_tables a JOIN scans_before b USING (relid) ORDER BY a.relname;
ROLLBACK;

-- The plans, as the functions run their statements (plpgsql passes its variables as parameters; the
-- generic plans are shown), on 3,000 relays with 2 snapshots each (6,000 NIP-66 results): a walk of relays_pkey from the
-- cursor that stops at the LIMIT, one backward probe of relay_metadata_pkey per relay; a backward range
-- scan of one relay's snapshots; the stats from event_stats' primary key (by day) and the delta table.
SELECT insert_relay_metadata_batch(jsonb_agg(jsonb_build_object('relay_url', 'wss://r' || i || '.plan.example',
    'network', 'clearnet', 'inserted_at', 1, 'generated_at', g,
    'nip66', jsonb_build_object('openable', true, 'readable', i % 2 = 0, 'writable', false, 'rtt_open', i, 'rtt_read', g))))
FROM generate_series(1, 3000) i, generate_series(1, 2) g;
INSERT INTO event_stats SELECT d, k, 1 FROM generate_series(19000, 20999) d, generate_series(0, 9) k;
VACUUM ANALYZE relays;
VACUUM ANALYZE relay_metadata;
VACUUM ANALYZE nip66;
VACUUM ANALYZE event_stats;
SET plan_cache_mode = force_generic_plan;
PREPARE relays_page(text, boolean, boolean, text, integer, text, integer) AS
    SELECT r.url FROM bigbrotr.relays r
    LEFT JOIN LATERAL (
        SELECT rm.generated_at, n66.openable, n66.readable, n66.writable, n66.rtt_open, n66.rtt_read,
               n66.rtt_write, n66.auth_required, n11.name, n11.software, n11.version, n11.supported_nips
        FROM bigbrotr.relay_metadata rm
        LEFT JOIN bigbrotr.nip66 n66 ON n66.id = rm.nip66_id
        LEFT JOIN bigbrotr.nip11 n11 ON n11.id = rm.nip11_id
        WHERE rm.relay_url = r.url
        ORDER BY rm.generated_at DESC
        LIMIT 1) l ON true
    WHERE r.url > coalesce($6, '')
      AND ($1 IS NULL OR r.network = $1)
      AND ($2 IS NULL OR l.readable = $2)
      AND ($3 IS NULL OR l.writable = $3)
      AND ($4 IS NULL OR l.software = $4)
      AND ($5 IS NULL OR l.supported_nips @> jsonb_build_array($5))
    ORDER BY r.url
    LIMIT $7 + 1;
EXPLAIN (COSTS OFF) EXECUTE relays_page(NULL, true, NULL, NULL, NULL, 'wss://r2', 100);
-- ... and it stops at the LIMIT: 101 relays wanted, 1 in 2 readable, so about 200 relays walked of 3,000.
CREATE TEMP TABLE plan_json (j json);
DO $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE relays_page(NULL, true, NULL, NULL, NULL, ''wss://r2'', 100)' INTO p;
    INSERT INTO plan_json VALUES (p);
END
$$;
SELECT (j->0->'Plan'->>'Actual Rows')::int AS rows, (j->0->'Plan'->'Plans'->0->'Plans'->0->>'Actual Rows')::int < 400 AS relays_walked_few
FROM plan_json;
PREPARE history_page(text, bigint, bigint, integer) AS
    SELECT m.generated_at, m.nip66_id FROM bigbrotr.relay_metadata m
    WHERE m.relay_url = $1 AND m.generated_at >= $2 AND m.generated_at <= $3
    ORDER BY m.generated_at DESC
    LIMIT $4 + 1;
EXPLAIN (COSTS OFF) EXECUTE history_page('wss://r2.plan.example', 0, 100, 100);
PREPARE stats_days(bigint, integer) AS
    SELECT s.day, sum(s.events)::bigint AS events
    FROM (SELECT st.day, st.events FROM bigbrotr.event_stats st WHERE st.day > $1 - $2 AND st.day <= $1
          UNION ALL
          SELECT d.day, d.events FROM bigbrotr.event_stats_delta d WHERE d.day > $1 - $2 AND d.day <= $1) s
    GROUP BY s.day HAVING sum(s.events) <> 0;
EXPLAIN (COSTS OFF) EXECUTE stats_days(20500, 30);
RESET plan_cache_mode;
-- api_relay's and api_relay_nip11's statements for one relay: primary-key probes and the relay's snapshots.
EXPLAIN (COSTS OFF) SELECT r.url, m.generated_at, n11.name, n66.readable
    FROM bigbrotr.relays r
    LEFT JOIN LATERAL (
        SELECT rm.generated_at, rm.nip11_id, rm.nip66_id FROM bigbrotr.relay_metadata rm
        WHERE rm.relay_url = r.url ORDER BY rm.generated_at DESC LIMIT 1) m ON true
    LEFT JOIN bigbrotr.nip11 n11 ON n11.id = m.nip11_id
    LEFT JOIN bigbrotr.nip66 n66 ON n66.id = m.nip66_id
    WHERE r.url = 'wss://r2.plan.example';
EXPLAIN (COSTS OFF) SELECT m.nip11_id, min(m.generated_at), max(m.generated_at), count(*)
    FROM bigbrotr.relay_metadata m WHERE m.relay_url = 'wss://r2.plan.example' AND m.nip11_id IS NOT NULL GROUP BY m.nip11_id;
DEALLOCATE ALL;
