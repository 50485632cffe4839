-- Finder configuration: the HTTP API sources it reads relay URLs from. Each source answers a JSON
-- array of relay URL strings. Add, disable or retime sources with plain SQL.
CREATE TABLE bigbrotr.finder_sources (
    url             text    PRIMARY KEY CHECK (url ~* '^https?://'),
    enabled         boolean NOT NULL DEFAULT true,
    timeout_seconds integer CHECK (timeout_seconds BETWEEN 1 AND 3600),  -- NULL: bigbrotr.finder_timeout
    added_at        timestamptz NOT NULL DEFAULT now(),
    builtin         boolean NOT NULL DEFAULT false  -- installed by CREATE EXTENSION
);
COMMENT ON TABLE bigbrotr.finder_sources IS
    'HTTP(S) sources of relay URLs for the finder service: each answers a JSON array of strings';

INSERT INTO bigbrotr.finder_sources (url, builtin) VALUES
    ('https://api.nostr.watch/v1/online', true),
    ('https://api.nostr.watch/v1/offline', true);

-- pg_dump keeps the sources a user added. The built-in rows are left out: CREATE EXTENSION makes them
-- again on restore, and dumping them too would make the restore's COPY fail on their primary key
-- (losing every user row with them). An edit to a built-in row is therefore not kept by a dump.
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.finder_sources', 'WHERE NOT builtin');
