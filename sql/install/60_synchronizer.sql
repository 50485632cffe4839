-- Synchronizer: per-relay overrides (configuration) and the per-cycle work queue through which the
-- coordinator hands relays to its parallel worker processes. Cursors live in service_state, one row
-- per relay keyed 'synchronizer:' || url, so workers never contend on one JSON document.

-- A row forces a relay in (enabled) or out (not enabled) whatever its last check said, and may set
-- its own timeouts (NULL: the bigbrotr.synchronizer_* GUCs). The URL is normalized on insert and
-- update by the nostr core's rules (the trigger below, through bigbrotr.relay_url_canonical), so it
-- names the same relay as relays.url; an invalid URL is refused with the reason (22023), and the CHECK
-- keeps the normal form even where the trigger did not run.
CREATE TABLE bigbrotr.synchronizer_relays (
    relay_url       text    PRIMARY KEY
                    CONSTRAINT synchronizer_relays_relay_url_normalized
                    CHECK ((bigbrotr.relay_url_canonical(relay_url, NULL)).normalized = relay_url),
    enabled         boolean NOT NULL DEFAULT true,
    request_timeout integer CHECK (request_timeout BETWEEN 1 AND 3600),   -- seconds
    relay_timeout   integer CHECK (relay_timeout BETWEEN 1 AND 86400),    -- seconds
    added_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bigbrotr.synchronizer_relays IS
    'Synchronizer overrides: force a relay in (enabled) or out (not enabled), per-relay timeouts';
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.synchronizer_relays', '');

CREATE FUNCTION bigbrotr.synchronizer_relays_normalize() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.relay_url := (bigbrotr.relay_url_canonical(NEW.relay_url, NULL)).normalized;
    RETURN NEW;
END;
$$;

CREATE TRIGGER synchronizer_relays_normalize
    BEFORE INSERT OR UPDATE OF relay_url ON bigbrotr.synchronizer_relays
    FOR EACH ROW EXECUTE FUNCTION bigbrotr.synchronizer_relays_normalize();

-- Rebuilt by the coordinator at each cycle. A worker claims a row by writing its pid; a row claimed
-- by a process that no longer exists is claimed again, so a killed worker's relay is not lost.
CREATE TABLE bigbrotr.synchronizer_queue (
    relay_url       text    PRIMARY KEY,
    network         text    NOT NULL,
    cycle           bigint  NOT NULL,
    request_timeout integer NOT NULL,
    relay_timeout   integer NOT NULL,
    claimed_by      integer,
    claimed_at      bigint,
    attempts        integer NOT NULL DEFAULT 0,
    done            boolean NOT NULL DEFAULT false,
    finished_at     bigint,
    stats           jsonb
);
COMMENT ON TABLE bigbrotr.synchronizer_queue IS
    'Synchronizer work queue of the current cycle: which relay each worker process has claimed';

-- The relays a cycle syncs: overrides first, then (when required) those a recent check found readable.
-- An override not yet in relays gets its network from the one onion rule, the strict v3 check of
-- relay_url_network; it cannot raise here, as the table's CHECK admits normalized (valid) URLs only.
CREATE FUNCTION bigbrotr.synchronizer_eligible(p_require_readable boolean, p_max_age bigint, p_now bigint)
RETURNS TABLE (relay_url text, network text, request_timeout integer, relay_timeout integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.relay_url,
           coalesce(r.network, bigbrotr.relay_url_network(o.relay_url)),
           o.request_timeout, o.relay_timeout
    FROM bigbrotr.synchronizer_relays o
    LEFT JOIN bigbrotr.relays r ON r.url = o.relay_url
    WHERE o.enabled
    UNION ALL
    SELECT l.relay_url, l.network, NULL::integer, NULL::integer
    FROM bigbrotr.relay_metadata_latest l
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.synchronizer_relays o WHERE o.relay_url = l.relay_url)
      AND (NOT p_require_readable
           OR (l.nip66_readable AND l.generated_at >= p_now - p_max_age))
$$;
