-- The role bigbrotr_api (0.4.0), which the api service's read-only transactions run as: NOLOGIN, it
-- reads what the api reads (the archive tables, the view, the stats) and calls the api functions,
-- and it can write nothing. As that role every INSERT, UPDATE, DELETE and TRUNCATE on every table of
-- schema bigbrotr fails, every insert_* / delete_* procedure fails (called with valid arguments, so
-- the refusal is the privilege's), and so do bigbrotr_start / bigbrotr_stop and api_stats_fold; the
-- SELECTs and api functions the handlers run succeed. Whole-schema loops, so a table or procedure
-- added later is covered without editing this file.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(34);

SELECT has_role('bigbrotr_api');
SELECT ok(NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bigbrotr_api'), 'bigbrotr_api cannot log in');
SELECT ok(NOT (SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication
               FROM pg_roles WHERE rolname = 'bigbrotr_api'), 'bigbrotr_api has no role attribute');
SELECT is_empty($$SELECT 1 FROM pg_auth_members WHERE member = 'bigbrotr_api'::regrole$$,
                'bigbrotr_api is a member of no role');

-- Its privileges, from the catalog: SELECT on exactly the tables and views the api reads, and no
-- write privilege on any relation of the schema.
SELECT set_eq($$SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'bigbrotr'::regnamespace
                AND c.relkind IN ('r', 'v', 'm', 'p') AND has_table_privilege('bigbrotr_api', c.oid, 'SELECT')$$,
              ARRAY['events', 'events_relays', 'relays', 'nip11', 'nip66', 'relay_metadata', 'relay_metadata_latest',
                    'event_stats', 'event_stats_delta'],
              'bigbrotr_api reads the archive, the view and the stats, nothing else');
SELECT is_empty($$SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'bigbrotr'::regnamespace
                  AND c.relkind IN ('r', 'v', 'm', 'p', 'S')
                  AND (has_table_privilege('bigbrotr_api', c.oid, 'INSERT') OR has_table_privilege('bigbrotr_api', c.oid, 'UPDATE')
                       OR has_table_privilege('bigbrotr_api', c.oid, 'DELETE') OR has_table_privilege('bigbrotr_api', c.oid, 'TRUNCATE')
                       OR has_table_privilege('bigbrotr_api', c.oid, 'REFERENCES') OR has_table_privilege('bigbrotr_api', c.oid, 'TRIGGER'))$$,
                'bigbrotr_api holds no write privilege on any relation of schema bigbrotr');
SELECT ok(NOT has_schema_privilege('bigbrotr_api', 'bigbrotr', 'CREATE'), 'bigbrotr_api cannot create in schema bigbrotr');
SELECT ok(NOT has_function_privilege('bigbrotr_api', 'bigbrotr_start(text)', 'EXECUTE')
          AND NOT has_function_privilege('bigbrotr_api', 'bigbrotr_stop(text)', 'EXECUTE')
          AND NOT has_function_privilege('bigbrotr_api', 'bigbrotr.api_stats_fold()', 'EXECUTE'),
          'no EXECUTE on bigbrotr_start, bigbrotr_stop, api_stats_fold');
SELECT ok((SELECT bool_and(has_function_privilege('bigbrotr_api', p.oid, 'EXECUTE')) FROM pg_proc p
           WHERE p.pronamespace = 'bigbrotr'::regnamespace AND p.proname LIKE 'api\_%' AND p.proname <> 'api_stats_fold'),
          'EXECUTE on every api_* function but the fold');

-- Data to read (and to try to write), inserted as the superuser.
SELECT bigbrotr.insert_events(ARRAY[sha256('\x61')], ARRAY[sha256('\x62')], ARRAY[1700000000]::bigint[], ARRAY[1],
    ARRAY['[["t","x"]]'::jsonb], ARRAY['hello'], ARRAY[decode(repeat('ab', 64), 'hex')], ARRAY['wss://role.example'],
    ARRAY[NULL]::text[], ARRAY[1]::bigint[], ARRAY[2]::bigint[]);
SELECT bigbrotr.insert_relay_metadata_batch('[{"relay_url": "wss://role.example", "network": "clearnet", "inserted_at": 1,
    "generated_at": 5, "nip66": {"openable": true, "readable": true, "writable": false}, "nip11": {"name": "r"}}]');
INSERT INTO bigbrotr.service_state VALUES ('role-test', '{}', 1);
INSERT INTO bigbrotr.finder_sources (url) VALUES ('https://role.example/list');
INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('wss://role.example');
INSERT INTO bigbrotr.synchronizer_queue (relay_url, network, cycle, request_timeout, relay_timeout)
    VALUES ('wss://role.example', 'clearnet', 1, 1, 1);
INSERT INTO bigbrotr.service_control (name, enabled) VALUES ('finder', false);
INSERT INTO bigbrotr.service_status (name) VALUES ('finder');
SELECT bigbrotr.api_stats_fold();

-- Every write statement on every table, as bigbrotr_api: each must fail with 42501. Collected first
-- (as the superuser, who can read the catalog and the rows), tried one by one in a subtransaction.
CREATE TEMP TABLE write_try (what text, stmt text, code text);
GRANT ALL ON write_try TO bigbrotr_api;
INSERT INTO write_try (what, stmt)
SELECT c.relname || ' ' || w.verb, format(w.tmpl, 'bigbrotr.' || quote_ident(c.relname),
       (SELECT quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
          AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity = '' ORDER BY a.attnum LIMIT 1))
FROM pg_class c,
     (VALUES ('INSERT', 'INSERT INTO %1$s (%2$s) SELECT %2$s FROM %1$s LIMIT 1'),
             ('INSERT DEFAULT', 'INSERT INTO %1$s DEFAULT VALUES'),
             ('UPDATE', 'UPDATE %1$s SET %2$s = %2$s'),
             ('DELETE', 'DELETE FROM %1$s'),
             ('TRUNCATE', 'TRUNCATE %1$s')) AS w(verb, tmpl)
WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relkind = 'r';
SELECT cmp_ok((SELECT count(*)::int FROM write_try), '>=', 5 * 15, 'every write verb on every table is tried');

SET LOCAL ROLE bigbrotr_api;
DO $$
DECLARE
    w record;
BEGIN
    FOR w IN SELECT * FROM write_try LOOP
        BEGIN
            EXECUTE w.stmt;
            UPDATE write_try SET code = '00000' WHERE what = w.what;
        EXCEPTION WHEN OTHERS THEN
            UPDATE write_try SET code = SQLSTATE WHERE what = w.what;
        END;
    END LOOP;
END
$$;
RESET ROLE;
SELECT is_empty($$SELECT what, code FROM write_try WHERE code IS DISTINCT FROM '42501'$$,
                'as bigbrotr_api every INSERT, UPDATE, DELETE and TRUNCATE on every table fails with 42501');

-- Every procedure that writes, called with valid arguments as bigbrotr_api; the list must be every
-- insert_* and delete_* function of the schema.
SELECT set_eq($$SELECT p.proname::text FROM pg_proc p WHERE p.pronamespace = 'bigbrotr'::regnamespace
                AND (p.proname LIKE 'insert\_%' OR p.proname LIKE 'delete\_%')$$,
              ARRAY['insert_relay', 'insert_relays', 'insert_event', 'insert_events', 'insert_relay_metadata',
                    'insert_relay_metadata_batch', 'insert_sightings', 'delete_relay', 'delete_events',
                    'delete_orphan_events', 'delete_orphan_nip11', 'delete_orphan_nip66', 'delete_orphan_sightings'],
              'the writing procedures tried below are all of them');
SET LOCAL ROLE bigbrotr_api;
SELECT throws_ok($$SELECT bigbrotr.insert_relay('wss://new.role.example', NULL, 1)$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_relays(ARRAY['wss://new.role.example'], ARRAY[NULL], ARRAY[1]::bigint[])$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_event(sha256('\x71'), sha256('\x62'), 1, 1, '[]', 'x', decode(repeat('ab', 64), 'hex'),
                                                'wss://role.example', NULL, 1, 2)$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_events(ARRAY[sha256('\x72')], ARRAY[sha256('\x62')], ARRAY[1]::bigint[], ARRAY[1],
    ARRAY['[]'::jsonb], ARRAY['x'], ARRAY[decode(repeat('ab', 64), 'hex')], ARRAY['wss://role.example'],
    ARRAY[NULL]::text[], ARRAY[1]::bigint[], ARRAY[2]::bigint[])$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_relay_metadata('wss://role.example', NULL, 1, 6, true, true, true, true, 1, 2, 3,
    false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_relay_metadata_batch('[{"relay_url": "wss://role.example", "inserted_at": 1,
    "generated_at": 7, "nip66": null, "nip11": null}]')$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.insert_sightings(ARRAY[sha256('\x61')], 'wss://other.role.example', NULL, 1, 2)$$, '42501');
SELECT throws_ok($$SELECT * FROM bigbrotr.delete_relay('wss://role.example')$$, '42501');
SELECT throws_ok($$SELECT * FROM bigbrotr.delete_events(ARRAY[sha256('\x61')])$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.delete_orphan_events()$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.delete_orphan_nip11()$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.delete_orphan_nip66()$$, '42501');
SELECT throws_ok($$SELECT bigbrotr.delete_orphan_sightings()$$, '42501');
SELECT throws_ok($$SELECT bigbrotr_start('finder')$$, '42501', NULL, 'bigbrotr_api cannot start a service');
SELECT throws_ok($$SELECT bigbrotr_stop('finder')$$, '42501', NULL, 'bigbrotr_api cannot stop a service');
SELECT throws_ok($$SELECT bigbrotr.api_stats_fold()$$, '42501', NULL, 'bigbrotr_api cannot fold the stats');

-- What the handlers read succeeds, and sees the data.
SELECT is((SELECT count(*)::int FROM bigbrotr.events e JOIN bigbrotr.events_relays er ON er.event_id = e.id
           WHERE e.tagvalues @> ARRAY[bigbrotr.tagvalue_entry('x')]), 1, 'bigbrotr_api reads events and their sightings');
SELECT is((SELECT nip66_readable FROM bigbrotr.relay_metadata_latest WHERE relay_url = 'wss://role.example'), true,
          'bigbrotr_api reads relay_metadata_latest');
SELECT is(bigbrotr.api_relay('wss://role.example')->'nip11'->>'name', 'r', 'api_relay works as bigbrotr_api');
SELECT is((bigbrotr.api_stats(30)->>'events')::int, 1, 'api_stats works as bigbrotr_api');
SELECT is(jsonb_array_length(bigbrotr.api_services()->'services'), (SELECT count(*)::int FROM bigbrotr_services()),
          'api_services works as bigbrotr_api (bigbrotr_status through the front door)');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM bigbrotr.events), 1, 'the archive is unchanged');

SELECT * FROM finish();
ROLLBACK;
