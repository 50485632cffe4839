-- CREATE EXTENSION refuses a database whose encoding is not UTF8: Nostr events are UTF-8, and in a
-- LATIN1 database event_verify would reject valid events and the workers would store mojibake.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS bigbrotr_latin1_test;
CREATE DATABASE bigbrotr_latin1_test TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C';
\c bigbrotr_latin1_test
SHOW server_encoding;
CREATE EXTENSION bigbrotr;
\set VERBOSITY sqlstate
CREATE EXTENSION bigbrotr;
\set VERBOSITY default
-- Nothing of it was left behind.
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'bigbrotr';
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'bigbrotr';
\c :"regress_db"
DROP DATABASE bigbrotr_latin1_test;
-- The UTF8 database of the other tests keeps its extension.
SHOW server_encoding;
SELECT extname FROM pg_extension WHERE extname = 'bigbrotr';
