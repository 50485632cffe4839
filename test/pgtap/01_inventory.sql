-- Object inventory of the installed extension: tables, columns, keys, indexes, functions, the view.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(106);

SELECT has_schema('bigbrotr');
SELECT has_extension('bigbrotr');
-- No other extension is required (its hashes use the built-in sha256(); GIN on text[] is built in):
-- this database got bigbrotr and nothing else.
SELECT ok((SELECT requires IS NULL FROM pg_available_extension_versions v JOIN pg_extension e
           ON e.extname = v.name AND e.extversion = v.version WHERE v.name = 'bigbrotr'),
          'bigbrotr.control requires no other extension');
SELECT is_empty($$SELECT 1 FROM pg_depend WHERE classid = 'pg_extension'::regclass AND refclassid = 'pg_extension'::regclass
                  AND objid = (SELECT oid FROM pg_extension WHERE extname = 'bigbrotr')$$,
                'bigbrotr depends on no other extension');
SELECT hasnt_extension('pgcrypto', 'bigbrotr installs without pgcrypto');
SELECT hasnt_extension('btree_gin', 'bigbrotr installs without btree_gin');
SELECT is_empty($$SELECT indexrelid FROM pg_index i JOIN pg_opclass c ON c.oid = ANY (i.indclass)
                  JOIN pg_depend d ON d.classid = 'pg_opclass'::regclass AND d.objid = c.oid AND d.deptype = 'e'
                  WHERE i.indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'bigbrotr'::regnamespace)$$,
                'no index of bigbrotr uses an operator class of an extension');

-- The front door: the control functions in the extension's schema (the current schema at CREATE
-- EXTENSION, public here), callable unqualified; all the rest in schema bigbrotr, a member of the
-- extension so that DROP EXTENSION removes it.
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'bigbrotr'), 'public',
          'the extension''s schema is the current schema at CREATE EXTENSION');
SELECT ok(EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_namespace'::regclass AND objid = 'bigbrotr'::regnamespace
                  AND refclassid = 'pg_extension'::regclass AND deptype = 'e'
                  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'bigbrotr')),
          'schema bigbrotr is a member of the extension');
SELECT has_function('public', 'bigbrotr_start', ARRAY['text']);
SELECT has_function('public', 'bigbrotr_stop', ARRAY['text']);
SELECT has_function('public', 'bigbrotr_status', 'function public.bigbrotr_status exists');
SELECT has_function('public', 'bigbrotr_services', 'function public.bigbrotr_services exists');
SELECT is_definer('public', 'bigbrotr_stop', ARRAY['text']);
SELECT is_definer('public', 'bigbrotr_status', '{}'::name[]);
SELECT is((SELECT array_agg(p.oid::regprocedure::text || ' ' || array_to_string(p.proconfig, ';') ORDER BY 1)
           FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef AND p.proname LIKE 'bigbrotr\_%'),
          ARRAY['bigbrotr_start(text) search_path=pg_catalog, pg_temp', 'bigbrotr_status() search_path=pg_catalog, pg_temp',
                'bigbrotr_stop(text) search_path=pg_catalog, pg_temp'],
          'start, stop and status are the SECURITY DEFINER functions, each with a pinned search_path');
SELECT isnt_definer('bigbrotr', 'bigbrotr_start', ARRAY['text'], 'the qualified bigbrotr.bigbrotr_start only forwards');
SELECT isnt_definer('bigbrotr', 'bigbrotr_stop', ARRAY['text'], 'the qualified bigbrotr.bigbrotr_stop only forwards');
SELECT is_empty($$SELECT 1 FROM pg_proc WHERE prosecdef AND pronamespace = 'bigbrotr'::regnamespace$$,
                'nothing in schema bigbrotr is SECURITY DEFINER');

SELECT tables_are('bigbrotr', ARRAY['relays', 'events', 'events_relays', 'nip11', 'nip66', 'relay_metadata',
    'service_state', 'service_control', 'service_status', 'finder_sources', 'finder_queue', 'synchronizer_relays',
    'synchronizer_queue', 'event_stats', 'event_stats_delta']);
SELECT views_are('bigbrotr', ARRAY['relay_metadata_latest']);

SELECT columns_are('bigbrotr', 'relays', ARRAY['url', 'network', 'inserted_at']);
SELECT columns_are('bigbrotr', 'events', ARRAY['id', 'pubkey', 'created_at', 'kind', 'tags', 'tagvalues', 'content', 'sig']);
SELECT columns_are('bigbrotr', 'events_relays', ARRAY['event_id', 'relay_url', 'seen_at', 'event_created_at']);
SELECT columns_are('bigbrotr', 'nip11', ARRAY['id', 'name', 'description', 'banner', 'icon', 'pubkey', 'contact',
    'supported_nips', 'software', 'version', 'privacy_policy', 'terms_of_service', 'limitation', 'extra_fields']);
SELECT columns_are('bigbrotr', 'nip66', ARRAY['id', 'openable', 'readable', 'writable', 'rtt_open', 'rtt_read', 'rtt_write',
    'auth_required']);
SELECT columns_are('bigbrotr', 'relay_metadata', ARRAY['relay_url', 'generated_at', 'nip11_id', 'nip66_id']);
SELECT columns_are('bigbrotr', 'service_state', ARRAY['service_name', 'state', 'updated_at']);

SELECT col_type_is('bigbrotr', 'events', 'id', 'bytea', 'events.id is bytea');
SELECT col_type_is('bigbrotr', 'events', 'created_at', 'bigint', 'events.created_at is bigint');
SELECT col_type_is('bigbrotr', 'events', 'tags', 'jsonb', 'events.tags is jsonb');
SELECT col_type_is('bigbrotr', 'events', 'tagvalues', 'text[]', 'events.tagvalues is text[]');
SELECT col_type_is('bigbrotr', 'nip66', 'rtt_open', 'integer', 'nip66.rtt_open is integer');
SELECT col_not_null('bigbrotr', 'events', 'content', 'events.content is not null');
SELECT col_not_null('bigbrotr', 'relays', 'network', 'relays.network is not null');
SELECT col_not_null('bigbrotr', 'events_relays', 'event_created_at', 'events_relays.event_created_at is not null');
SELECT col_is_null('bigbrotr', 'nip66', 'auth_required', 'nip66.auth_required may be NULL (not tested)');
SELECT col_is_pk('bigbrotr', 'relays', ARRAY['url'], 'relays primary key');
SELECT col_is_pk('bigbrotr', 'events', ARRAY['id'], 'events primary key');
SELECT col_is_pk('bigbrotr', 'events_relays', ARRAY['event_id', 'relay_url'], 'events_relays primary key');
SELECT col_is_pk('bigbrotr', 'relay_metadata', ARRAY['relay_url', 'generated_at'], 'relay_metadata primary key');
SELECT col_is_pk('bigbrotr', 'service_state', ARRAY['service_name'], 'service_state primary key');
SELECT hasnt_fk('bigbrotr', 'events_relays', 'events_relays has no foreign key (0.2.0: the delete procedures replace the cascades)');
SELECT fk_ok('bigbrotr', 'relay_metadata', 'relay_url', 'bigbrotr', 'relays', 'url');
SELECT fk_ok('bigbrotr', 'relay_metadata', 'nip11_id', 'bigbrotr', 'nip11', 'id');
SELECT fk_ok('bigbrotr', 'relay_metadata', 'nip66_id', 'bigbrotr', 'nip66', 'id');

SELECT has_index('bigbrotr', 'events', 'events_created_at_idx', 'created_at');
SELECT has_index('bigbrotr', 'events', 'events_kind_created_at_idx', ARRAY['kind', 'created_at']);
SELECT has_index('bigbrotr', 'events', 'events_pubkey_kind_created_at_idx', ARRAY['pubkey', 'kind', 'created_at']);
SELECT index_is_type('bigbrotr', 'events', 'events_tagvalues_idx', 'gin');
SELECT has_index('bigbrotr', 'events_relays', 'events_relays_relay_url_seen_at_idx', ARRAY['relay_url', 'seen_at']);
SELECT has_index('bigbrotr', 'events_relays', 'events_relays_relay_url_event_created_at_idx',
    ARRAY['relay_url', 'event_created_at', 'event_id']);
SELECT indexes_are('bigbrotr', 'events', ARRAY['events_pkey', 'events_created_at_idx', 'events_kind_created_at_idx',
    'events_pubkey_created_at_idx', 'events_pubkey_kind_created_at_idx', 'events_tagvalues_idx'],
    'events has the indexes of 0.2.0, none that a prefix of another serves');
SELECT indexes_are('bigbrotr', 'events_relays', ARRAY['events_relays_pkey', 'events_relays_relay_url_seen_at_idx',
    'events_relays_relay_url_event_created_at_idx'],
    'events_relays has its primary key, (relay_url, seen_at) and (relay_url, event_created_at, event_id) only');
SELECT indexes_are('bigbrotr', 'relay_metadata', ARRAY['relay_metadata_pkey', 'relay_metadata_generated_at_idx',
    'relay_metadata_nip11_id_idx', 'relay_metadata_nip66_id_idx'], 'relay_metadata: no duplicate of its primary key');
SELECT indexes_are('bigbrotr', 'nip66', ARRAY['nip66_pkey'], 'nip66 is reached by id only');
SELECT has_index('bigbrotr', 'relay_metadata', 'relay_metadata_nip66_id_idx', 'nip66_id');

SELECT has_function('bigbrotr', 'insert_event', ARRAY['bytea', 'bytea', 'bigint', 'integer', 'jsonb', 'text', 'bytea', 'text', 'text', 'bigint', 'bigint']);
SELECT has_function('bigbrotr', 'insert_relay', ARRAY['text', 'text', 'bigint']);
SELECT has_function('bigbrotr', 'insert_relays', ARRAY['text[]', 'text[]', 'bigint[]']);
SELECT has_function('bigbrotr', 'insert_events', 'function bigbrotr.insert_events exists');
SELECT has_function('bigbrotr', 'insert_relay_metadata', 'function bigbrotr.insert_relay_metadata exists');
SELECT has_function('bigbrotr', 'insert_relay_metadata_batch', ARRAY['jsonb']);
SELECT function_returns('bigbrotr', 'delete_orphan_events', '{}'::name[], 'integer', 'delete_orphan_events returns how many rows it removed');
SELECT function_returns('bigbrotr', 'insert_sightings', ARRAY['bytea[]', 'text', 'text', 'bigint', 'bigint'], 'bytea[]',
                        'insert_sightings returns the ids it did not know');
SELECT has_function('bigbrotr', 'delete_relay', ARRAY['text']);
SELECT has_function('bigbrotr', 'delete_events', ARRAY['bytea[]']);
SELECT function_returns('bigbrotr', 'delete_orphan_sightings', '{}'::name[], 'bigint', 'delete_orphan_sightings returns how many rows it removed');
SELECT function_lang_is('bigbrotr', 'tags_to_tagvalues', ARRAY['jsonb'], 'c', 'tags_to_tagvalues is C (no SQL per stored event)');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'bigbrotr'), '0.4.0', 'the installed version is 0.4.0');
SELECT function_returns('bigbrotr', 'relay_items', ARRAY['text', 'bigint', 'bigint', 'integer'], 'setof record',
                        'relay_items returns a set of (created_at, id)');
SELECT function_lang_is('bigbrotr', 'relay_items', ARRAY['text', 'bigint', 'bigint', 'integer'], 'sql',
                        'relay_items is plain SQL (inlined by the planner)');
SELECT volatility_is('bigbrotr', 'relay_items', ARRAY['text', 'bigint', 'bigint', 'integer'], 'stable', 'relay_items is STABLE');
SELECT has_function('bigbrotr', 'compute_nip66_hash', ARRAY['boolean', 'boolean', 'boolean', 'integer', 'integer', 'integer', 'boolean']);
SELECT hasnt_function('bigbrotr', 'compute_nip66_hash', ARRAY['boolean', 'boolean', 'boolean', 'integer', 'integer', 'integer'],
                      'the 0.2.0 six-argument compute_nip66_hash is gone (its seventh argument has a default)');
SELECT function_returns('bigbrotr', 'delete_orphan_nip11', '{}'::name[], 'integer', 'delete_orphan_nip11 returns how many rows it removed');
SELECT function_returns('bigbrotr', 'delete_orphan_nip66', '{}'::name[], 'integer', 'delete_orphan_nip66 returns how many rows it removed');
SELECT has_function('bigbrotr', 'event_verify', ARRAY['text']);
SELECT has_function('bigbrotr', 'event_verify', ARRAY['jsonb']);
SELECT has_function('bigbrotr', 'event_id', ARRAY['jsonb']);
SELECT has_function('bigbrotr', 'event_id', ARRAY['text', 'bigint', 'integer', 'jsonb', 'text']);
SELECT has_function('bigbrotr', 'relay_url_check', ARRAY['text']);
SELECT has_function('bigbrotr', 'relay_url_normalize', ARRAY['text']);
SELECT has_function('bigbrotr', 'relay_url_network', ARRAY['text']);
SELECT volatility_is('bigbrotr', 'event_verify', ARRAY['text'], 'immutable', 'event_verify is immutable (usable in indexes and checks)');
SELECT has_function('bigbrotr', 'bigbrotr_start', ARRAY['text']);
SELECT has_function('bigbrotr', 'bigbrotr_stop', ARRAY['text']);
SELECT has_function('bigbrotr', 'bigbrotr_status', 'function bigbrotr.bigbrotr_status exists');
SELECT volatility_is('bigbrotr', 'tags_to_tagvalues', ARRAY['jsonb'], 'immutable');
SELECT is_definer('public', 'bigbrotr_start', ARRAY['text']);
SELECT has_function('bigbrotr', 'synchronizer_eligible', ARRAY['boolean', 'bigint', 'bigint']);
SELECT col_is_pk('bigbrotr', 'synchronizer_relays', ARRAY['relay_url'], 'synchronizer_relays primary key');
SELECT col_is_pk('bigbrotr', 'synchronizer_queue', ARRAY['relay_url'], 'synchronizer_queue primary key');

-- 0.4.0: the stats the api reads, and its functions (docs/api.md), each SECURITY INVOKER (checked
-- above: nothing in schema bigbrotr is SECURITY DEFINER) with a pinned search_path.
SELECT columns_are('bigbrotr', 'event_stats', ARRAY['day', 'kind', 'events']);
SELECT col_is_pk('bigbrotr', 'event_stats', ARRAY['day', 'kind'], 'event_stats primary key (day, kind)');
SELECT columns_are('bigbrotr', 'event_stats_delta', ARRAY['day', 'kind', 'events']);
SELECT indexes_are('bigbrotr', 'event_stats_delta', '{}'::name[], 'the delta table has no index to maintain on insert');
SELECT triggers_are('bigbrotr', 'events', ARRAY['events_finder_queue', 'events_stats_insert', 'events_stats_delete',
    'events_stats_update', 'events_stats_truncate']);
SELECT is((SELECT array_agg(t.tgname::text || ' ' || (t.tgtype & 1 = 0)::text ORDER BY t.tgname) FROM pg_trigger t
           WHERE t.tgrelid = 'bigbrotr.events'::regclass AND t.tgname LIKE 'events\_stats\_%'),
          ARRAY['events_stats_delete true', 'events_stats_insert true', 'events_stats_truncate true', 'events_stats_update true'],
          'the stats triggers are statement-level');
SELECT is((SELECT array_agg(p.oid::regprocedure::text || ' ' || p.provolatile::text || ' ' || array_to_string(p.proconfig, ';')
                            ORDER BY p.oid::regprocedure::text)
           FROM pg_proc p WHERE p.pronamespace = 'bigbrotr'::regnamespace AND p.proname LIKE 'api\_%'
             AND p.proname NOT IN ('api_relay_url', 'api_nip11_object', 'api_nip66_object', 'api_page_limit')),
          ARRAY['bigbrotr.api_gauges() s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_relay(text) s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_relay_history(text,bigint,bigint,bigint,integer) s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_relay_nip11(text) s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_relays(text,boolean,boolean,text,integer,text,integer) s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_services() s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_stats(integer) s search_path=pg_catalog, pg_temp',
                'bigbrotr.api_stats_fold() v search_path=pg_catalog, pg_temp'],
          'the api functions of docs/api.md: STABLE (the fold writes: VOLATILE), each with a pinned search_path');
SELECT function_returns('bigbrotr', 'api_gauges', '{}'::name[], 'setof record', 'api_gauges returns (name, labels, value) rows');
SELECT function_returns('bigbrotr', 'api_stats_fold', '{}'::name[], 'bigint', 'api_stats_fold returns the delta rows it folded');

SELECT set_eq($$SELECT name FROM bigbrotr.bigbrotr_services()$$,
              $$SELECT unnest(ARRAY['initializer', 'finder', 'monitor', 'synchronizer', 'api'])$$, 'the registry lists the compiled services');
SELECT is((SELECT count(*)::int FROM bigbrotr.bigbrotr_status()), (SELECT count(*)::int FROM bigbrotr.bigbrotr_services()),
          'bigbrotr_status has one row per service');
SELECT set_eq($$SELECT * FROM bigbrotr_services()$$, $$SELECT * FROM bigbrotr.bigbrotr_services()$$,
              'bigbrotr_services and bigbrotr.bigbrotr_services answer the same');
SELECT set_eq($$SELECT name, enabled, running FROM bigbrotr_status()$$,
              $$SELECT name, enabled, running FROM bigbrotr.bigbrotr_status()$$,
              'bigbrotr_status and bigbrotr.bigbrotr_status answer the same');

SELECT * FROM finish();
ROLLBACK;
