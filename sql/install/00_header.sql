-- bigbrotr install script, assembled by the Makefile from sql/install/*.sql in name order.
-- Two schemas. The extension's own schema (@extschema@: the current schema at CREATE EXTENSION,
-- normally public) holds only the front door, bigbrotr_start/stop/status/services, so that they are
-- callable unqualified with the default search_path. Schema bigbrotr, created here and therefore a
-- member of the extension (DROP EXTENSION removes it with everything in it), holds all data, the
-- procedures and views, and schema-qualified forwards to the front door. Every reference is
-- schema-qualified so that no caller's search_path can redirect them.
\echo Use "CREATE EXTENSION bigbrotr" to load this file. \quit

-- Nostr is UTF-8 (events, tags, relay URLs): in any other database encoding event_verify would reject
-- valid events and the workers would store mojibake, so CREATE EXTENSION refuses it before anything
-- is created (the services check it again after they connect).
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'bigbrotr needs a UTF8 database, but database "%" has encoding %',
            pg_catalog.current_database(), pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create a UTF8 database and install the extension there, e.g. '
                         'CREATE DATABASE bigbrotr TEMPLATE template0 ENCODING ''UTF8'' '
                         'LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8''; then CREATE EXTENSION bigbrotr in it.';
    END IF;
END
$$;

CREATE SCHEMA bigbrotr;
COMMENT ON SCHEMA bigbrotr IS 'bigbrotr: the Nostr archive (tables, procedures, views) of extension bigbrotr';
