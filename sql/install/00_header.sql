-- bigbrotr install script, assembled by the Makefile from sql/install/*.sql in name order.
-- Objects live in schema bigbrotr (fixed by the control file); every reference is schema-qualified
-- so that no caller's search_path can redirect them.
\echo Use "CREATE EXTENSION bigbrotr" to load this file. \quit
