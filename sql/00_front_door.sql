-- The front door: what a new user types right after installing, in a fresh database with the default
-- search_path (never set here), CASCADE nowhere. The fresh database is the one the workers use
-- (bigbrotr.database), so the started service really runs; it is made by this test and dropped at
-- its end. A database of that name that already exists is never touched: the test then stops.
SELECT current_database() AS regress_db, current_setting('bigbrotr.database') AS services_db,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = current_setting('bigbrotr.database')) AS services_db_absent
\gset
\if :services_db_absent
\set ON_ERROR_STOP on
CREATE DATABASE :"services_db";
\c :"services_db"
\set ON_ERROR_STOP off
SHOW search_path;

CREATE EXTENSION bigbrotr;
-- The card's lines, verbatim. The launcher acts on a start once its transaction commits, so inside
-- the transaction the status is exact (wanted, not yet running) and the expected output can say so.
BEGIN;
SELECT bigbrotr_start('monitor');
SELECT * FROM bigbrotr_status();
COMMIT;

-- Committed: the launcher starts the monitor's worker (the launcher retries its connection to a
-- database that did not exist every 10 s). Waits until the status says running, or gives up.
CREATE FUNCTION pg_temp.wait_running(p_name text, p_running boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1200 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF (SELECT s.running FROM bigbrotr_status() s WHERE s.name = p_name) = p_running THEN
            RETURN p_running;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN NOT p_running;
END;
$$;
SELECT pg_temp.wait_running('monitor', true) AS monitor_running;
SELECT name, enabled, running, pid IS NOT NULL AS has_pid, started_at IS NOT NULL AS has_started_at
FROM bigbrotr_status() ORDER BY name;
SELECT bigbrotr_start('monitor');
SELECT bigbrotr_stop('monitor');
SELECT pg_temp.wait_running('monitor', false) AS monitor_running;
SELECT bigbrotr_stop('monitor');
SELECT * FROM bigbrotr_services();

-- Where things are: the control functions in the extension's schema (here public, the current
-- schema), start/stop/status SECURITY DEFINER with a pinned search_path; schema bigbrotr, a member of
-- the extension, holds the rest and thin forwards under the old qualified names.
SELECT extnamespace::regnamespace AS extension_schema FROM pg_extension WHERE extname = 'bigbrotr';
SELECT p.pronamespace::regnamespace AS schema, p.proname, p.prosecdef, p.proconfig,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p WHERE p.proname LIKE 'bigbrotr\_%' ORDER BY 1, 2;
SELECT bigbrotr.bigbrotr_stop('monitor');
SELECT name, enabled FROM bigbrotr.bigbrotr_status() ORDER BY name;
SELECT count(*) AS services FROM bigbrotr.bigbrotr_services();
SELECT pg_describe_object(classid, objid, objsubid) AS member_schema
FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'bigbrotr') AND classid = 'pg_namespace'::regclass;
-- No other extension was needed, none was installed.
SELECT extname FROM pg_extension ORDER BY extname;
SELECT version, requires FROM pg_available_extension_versions WHERE name = 'bigbrotr' ORDER BY version;

-- DROP EXTENSION removes everything, schema bigbrotr included; CREATE EXTENSION works again after it.
DROP EXTENSION bigbrotr;
SELECT count(*) AS bigbrotr_schemas FROM pg_namespace WHERE nspname = 'bigbrotr';
SELECT count(*) AS bigbrotr_functions FROM pg_proc WHERE proname LIKE 'bigbrotr\_%';
SELECT bigbrotr_status();
CREATE EXTENSION bigbrotr;
SELECT name, enabled, running FROM bigbrotr_status() ORDER BY name;
DROP EXTENSION bigbrotr;

\c :"regress_db"
DROP DATABASE :"services_db" WITH (FORCE);
\else
\echo database :services_db exists already: this test runs only where bigbrotr.database does not exist yet
\endif
