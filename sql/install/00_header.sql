-- bigbrotr install script, assembled by the Makefile from sql/install/*.sql in name order.
-- Two schemas. The extension's own schema (@extschema@: the current schema at CREATE EXTENSION,
-- normally public) holds only the front door, bigbrotr_start/stop/status/services, so that they are
-- callable unqualified with the default search_path. Schema bigbrotr, created here and therefore a
-- member of the extension (DROP EXTENSION removes it with everything in it), holds all data, the
-- procedures and views, and schema-qualified forwards to the front door. Every reference is
-- schema-qualified so that no caller's search_path can redirect them.
\echo Use "CREATE EXTENSION bigbrotr" to load this file. \quit

CREATE SCHEMA bigbrotr;
COMMENT ON SCHEMA bigbrotr IS 'bigbrotr: the Nostr archive (tables, procedures, views) of extension bigbrotr';
