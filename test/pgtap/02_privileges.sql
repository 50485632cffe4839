-- Privileges: only superusers, or roles a superuser grants EXECUTE, start and stop services; secrets
-- are not visible to other roles. The privilege lives on the front-door functions (in the extension's
-- schema, public here): one GRANT covers the qualified bigbrotr.bigbrotr_start too, which only forwards.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(20);

CREATE ROLE bb_tap_plain;
CREATE ROLE bb_tap_operator;
GRANT EXECUTE ON FUNCTION bigbrotr_start(text), bigbrotr_stop(text) TO bb_tap_operator;

SELECT function_privs_are('public', 'bigbrotr_start', ARRAY['text'], 'bb_tap_plain', '{}'::text[]);
SELECT function_privs_are('public', 'bigbrotr_stop', ARRAY['text'], 'bb_tap_plain', '{}'::text[]);
SELECT function_privs_are('public', 'bigbrotr_start', ARRAY['text'], 'bb_tap_operator', ARRAY['EXECUTE']);
SELECT function_privs_are('public', 'bigbrotr_status', '{}'::text[], 'bb_tap_plain', ARRAY['EXECUTE']);
SELECT table_privs_are('bigbrotr', 'service_control', 'bb_tap_plain', '{}'::text[]);
SELECT table_privs_are('bigbrotr', 'events', 'bb_tap_plain', '{}'::text[]);

SET LOCAL ROLE bb_tap_plain;
SELECT throws_ok($$SELECT bigbrotr_start('initializer')$$, '42501', NULL, 'a plain role cannot start a service');
SELECT throws_ok($$SELECT bigbrotr_stop('initializer')$$, '42501', NULL, 'a plain role cannot stop a service');
SELECT throws_ok($$SELECT bigbrotr.bigbrotr_start('initializer')$$, '42501', NULL,
                 'nor through the qualified name bigbrotr.bigbrotr_start');
SELECT throws_ok($$SELECT bigbrotr.bigbrotr_stop('initializer')$$, '42501', NULL,
                 'nor through the qualified name bigbrotr.bigbrotr_stop');
SELECT lives_ok($$SELECT * FROM bigbrotr_status()$$, 'a plain role can read the status');
SELECT lives_ok($$SELECT * FROM bigbrotr.bigbrotr_status()$$, 'also through the qualified name');
SELECT throws_ok($$INSERT INTO bigbrotr.service_control VALUES ('initializer', true)$$, '42501', NULL,
                 'a plain role cannot write the wish table directly');
SELECT is((SELECT count(*)::int FROM pg_settings WHERE name = 'bigbrotr.initializer_seed_file'), 0,
          'superuser-only settings are hidden from pg_settings for other roles');
RESET ROLE;

SET LOCAL ROLE bb_tap_operator;
SELECT ok(bigbrotr_start('initializer'), 'a granted role can start a service');
SELECT is(bigbrotr_start('initializer'), false, 'starting a started service is a no-op');
SELECT ok(bigbrotr_stop('initializer'), 'a granted role can stop a service');
SELECT ok(bigbrotr.bigbrotr_start('initializer'), 'the one grant covers the qualified bigbrotr.bigbrotr_start');
SELECT ok(bigbrotr.bigbrotr_stop('initializer'), 'and bigbrotr.bigbrotr_stop');
SELECT is((SELECT enabled FROM bigbrotr_status() WHERE name = 'initializer'), false, 'the status shows the last wish');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
