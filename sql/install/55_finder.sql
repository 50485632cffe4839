-- Finder configuration: the HTTP API sources it reads relay URLs from. Each source answers a JSON
-- array of relay URL strings. Add, disable or retime sources with plain SQL.
CREATE TABLE bigbrotr.finder_sources (
    url             text    PRIMARY KEY CHECK (url ~* '^https?://'),
    enabled         boolean NOT NULL DEFAULT true,
    timeout_seconds integer CHECK (timeout_seconds BETWEEN 1 AND 3600),  -- NULL: bigbrotr.finder_timeout
    added_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bigbrotr.finder_sources IS
    'HTTP(S) sources of relay URLs for the finder service: each answers a JSON array of strings';

INSERT INTO bigbrotr.finder_sources (url) VALUES
    ('https://api.nostr.watch/v1/online'),
    ('https://api.nostr.watch/v1/offline');

-- Keep user changes to the sources across pg_dump / restore.
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.finder_sources', '');
