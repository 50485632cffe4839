-- bigbrotr 0.2.0 -> 0.3.0 (ALTER EXTENSION bigbrotr UPDATE). What NIP-77 negentropy and the monitor's
-- observed NIP-42 AUTH need:
--   * events_relays.event_created_at, the event's created_at copied into its sightings, and the index
--     (relay_url, event_created_at, event_id): a relay's items of a time window become an index-only
--     scan (bigbrotr.relay_items). This REWRITES events_relays once (every sighting gets the column,
--     read from events by primary key) and rebuilds its indexes, under an ACCESS EXCLUSIVE lock on
--     events_relays for the whole update: writers of sightings wait (stop the synchronizer first).
--     A sighting whose event no longer exists (left by a DELETE by hand;
--     bigbrotr.delete_orphan_sightings would remove it) has no created_at and is deleted first, with a
--     WARNING giving how many (an extension script shows no NOTICE).
--   * nip66.auth_required (NULL: not tested) with compute_nip66_hash and insert_relay_metadata taking
--     it; the hash of a row without it is unchanged, so stored ids stay valid. A signature that changes
--     is dropped and created again (nothing depends on these functions: plpgsql and SQL bodies are not
--     tracked dependencies). relay_metadata_latest gains nip66_auth_required as its last column
--     (CREATE OR REPLACE VIEW: views built on it survive).
--   * every writer of events_relays (insert_event, insert_events, insert_sightings) sets the column.
-- The result equals a fresh 0.3.0 install (test/integration/upgrade.test.mjs compares the catalogs).
\echo Use "ALTER EXTENSION bigbrotr UPDATE" to load this file. \quit

-- Sightings of events that are gone cannot be given a created_at.
DO $$
DECLARE
    v_n bigint;
BEGIN
    DELETE FROM bigbrotr.events_relays er
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.events e WHERE e.id = er.event_id);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        RAISE WARNING 'bigbrotr 0.3.0 update: deleted % sightings whose event no longer exists', v_n;
    END IF;
END
$$;

-- Adding a nullable column without a default reads no row. The type change to the same type with a
-- USING expression then rewrites the table once, filling every row from events (ALTER TABLE allows no
-- subquery there, hence the helper function), and SET NOT NULL is checked in the same pass. One new
-- heap and freshly built indexes, no dead tuples (an UPDATE would leave the table twice its size).
ALTER TABLE bigbrotr.events_relays ADD COLUMN event_created_at bigint;
CREATE FUNCTION bigbrotr.upgrade_030_created_at(p_id bytea) RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT e.created_at FROM bigbrotr.events e WHERE e.id = p_id $$;
ALTER TABLE bigbrotr.events_relays
    ALTER COLUMN event_created_at TYPE bigint USING bigbrotr.upgrade_030_created_at(event_id),
    ALTER COLUMN event_created_at SET NOT NULL;
DROP FUNCTION bigbrotr.upgrade_030_created_at(bytea);

CREATE INDEX events_relays_relay_url_event_created_at_idx
    ON bigbrotr.events_relays (relay_url, event_created_at, event_id);

ALTER TABLE bigbrotr.nip66 ADD COLUMN auth_required boolean;

CREATE OR REPLACE FUNCTION bigbrotr.insert_event(
    p_event_id bytea, p_pubkey bytea, p_created_at bigint, p_kind integer, p_tags jsonb,
    p_content text, p_sig bytea, p_relay_url text, p_relay_network text,
    p_relay_inserted_at bigint, p_seen_at bigint
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM bigbrotr.relay_url_canonical(p_relay_url, p_relay_network);
    INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
    VALUES (p_event_id, p_pubkey, p_created_at, p_kind, p_tags, p_content, p_sig)
    ON CONFLICT (id) DO NOTHING;
    PERFORM bigbrotr.insert_relay(c.normalized, c.relay_network, p_relay_inserted_at);
    INSERT INTO bigbrotr.events_relays (event_id, relay_url, seen_at, event_created_at)
    VALUES (p_event_id, c.normalized, p_seen_at, p_created_at)
    ON CONFLICT (event_id, relay_url) DO NOTHING;
END;
$$;

-- Batch form: one row per event sighting; returns how many events were new to the archive.
CREATE OR REPLACE FUNCTION bigbrotr.insert_events(
    p_ids bytea[], p_pubkeys bytea[], p_created_ats bigint[], p_kinds integer[], p_tags jsonb[],
    p_contents text[], p_sigs bytea[], p_relay_urls text[], p_relay_networks text[],
    p_relay_inserted_ats bigint[], p_seen_ats bigint[]
) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_n integer := cardinality(p_ids);
    v_new integer;
    v_given text[];     -- each distinct relay URL of the call, as given
    v_urls text[];      -- ... normalized
    v_networks text[];  -- ... its network
    v_inserted_ats bigint[];
BEGIN
    IF v_n IS NULL THEN
        RAISE EXCEPTION 'insert_events: ids must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(p_pubkeys) IS DISTINCT FROM v_n OR cardinality(p_created_ats) IS DISTINCT FROM v_n
       OR cardinality(p_kinds) IS DISTINCT FROM v_n OR cardinality(p_tags) IS DISTINCT FROM v_n
       OR cardinality(p_contents) IS DISTINCT FROM v_n OR cardinality(p_sigs) IS DISTINCT FROM v_n
       OR cardinality(p_relay_urls) IS DISTINCT FROM v_n OR cardinality(p_relay_networks) IS DISTINCT FROM v_n
       OR cardinality(p_relay_inserted_ats) IS DISTINCT FROM v_n OR cardinality(p_seen_ats) IS DISTINCT FROM v_n THEN
        RAISE EXCEPTION 'insert_events: all arrays must have % elements', v_n
            USING ERRCODE = 'array_subscript_error';
    END IF;

    -- One normalization per distinct URL of the call (a synchronizer batch repeats one relay).
    SELECT array_agg(d.u), array_agg(c.normalized), array_agg(c.relay_network), array_agg(d.t)
    INTO v_given, v_urls, v_networks, v_inserted_ats
    FROM (SELECT DISTINCT ON (u) u, n, t
          FROM unnest(p_relay_urls, p_relay_networks, p_relay_inserted_ats) AS x(u, n, t)
          ORDER BY u, t) AS d,
         LATERAL bigbrotr.relay_url_canonical(d.u, d.n) AS c;

    -- Sorted inserts keep concurrent workers that share events from deadlocking.
    INSERT INTO bigbrotr.relays (url, network, inserted_at)
    SELECT DISTINCT ON (u) u, n, t
    FROM unnest(v_urls, v_networks, v_inserted_ats) AS x(u, n, t)
    ORDER BY u, t
    ON CONFLICT (url) DO NOTHING;

    INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
    SELECT i, pk, c, k, tg, ct, s
    FROM unnest(p_ids, p_pubkeys, p_created_ats, p_kinds, p_tags, p_contents, p_sigs)
         AS x(i, pk, c, k, tg, ct, s)
    ORDER BY i
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;

    -- The event's created_at as given: it is part of what the id hashes, so it is the stored one's.
    INSERT INTO bigbrotr.events_relays (event_id, relay_url, seen_at, event_created_at)
    SELECT DISTINCT ON (x.i, m.url) x.i, m.url, x.s, x.c
    FROM unnest(p_ids, p_relay_urls, p_seen_ats, p_created_ats) AS x(i, u, s, c)
    JOIN unnest(v_given, v_urls) AS m(u, url) ON m.u = x.u
    ORDER BY x.i, m.url, x.s
    ON CONFLICT (event_id, relay_url) DO NOTHING;

    RETURN v_new;
END;
$$;

-- Records that the events p_ids, already archived, were seen on a relay at p_seen_at, and returns
-- the ids that are not in events (sorted, distinct; '{}' when none), for which nothing is recorded:
-- the caller verifies and inserts those through insert_events. The relay URL is normalized
-- (relay_url_canonical: 22023 for an invalid URL or a contradicting network) and the relay inserted
-- if absent. Idempotent (ON CONFLICT DO NOTHING keeps the first seen_at); NULL ids are ignored.
-- Rows are inserted in id order, as insert_events does, so concurrent workers do not deadlock.
CREATE OR REPLACE FUNCTION bigbrotr.insert_sightings(
    p_ids bytea[], p_relay_url text, p_relay_network text, p_relay_inserted_at bigint, p_seen_at bigint
) RETURNS bytea[]
LANGUAGE plpgsql
AS $$
DECLARE
    c record;
    v_missing bytea[];
BEGIN
    IF p_ids IS NULL THEN
        RAISE EXCEPTION 'insert_sightings: ids must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_seen_at IS NULL OR p_relay_inserted_at IS NULL THEN
        RAISE EXCEPTION 'insert_sightings: seen_at and relay_inserted_at must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO c FROM bigbrotr.relay_url_canonical(p_relay_url, p_relay_network);
    INSERT INTO bigbrotr.relays (url, network, inserted_at)
    VALUES (c.normalized, c.relay_network, p_relay_inserted_at)
    ON CONFLICT (url) DO NOTHING;

    -- One statement, one snapshot: an id is recorded exactly when it is not returned. The lookup
    -- that finds the event archived also reads its created_at (for events_relays.event_created_at):
    -- one probe of events_pkey per id, as before 0.3.0.
    WITH given AS (
        SELECT DISTINCT u.i FROM unnest(p_ids) AS u(i) WHERE u.i IS NOT NULL
    ), looked_up AS (
        SELECT k.i, k.created_at, k.created_at IS NOT NULL AS known   -- events.created_at is NOT NULL
        FROM (SELECT g.i, (SELECT e.created_at FROM bigbrotr.events e WHERE e.id = g.i) AS created_at
              FROM given g) AS k
    ), recorded AS (
        INSERT INTO bigbrotr.events_relays (event_id, relay_url, seen_at, event_created_at)
        SELECT l.i, c.normalized, p_seen_at, l.created_at FROM looked_up l WHERE l.known ORDER BY l.i
        ON CONFLICT (event_id, relay_url) DO NOTHING
    )
    SELECT coalesce(array_agg(l.i ORDER BY l.i) FILTER (WHERE NOT l.known), '{}'::bytea[])
    INTO v_missing FROM looked_up l;
    RETURN v_missing;
END;
$$;

DROP FUNCTION bigbrotr.compute_nip66_hash(boolean, boolean, boolean, integer, integer, integer);
-- auth_required (0.3.0) joins the hashed fields only when it is known: a result with it NULL (not
-- tested, and every row stored before 0.3.0) hashes the six fields exactly as before, so an upgraded
-- archive keeps deduplicating against its old rows; true or false make a seventh element.
CREATE FUNCTION bigbrotr.compute_nip66_hash(
    p_openable boolean, p_readable boolean, p_writable boolean,
    p_rtt_open integer, p_rtt_read integer, p_rtt_write integer,
    p_auth_required boolean DEFAULT NULL
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(CASE WHEN p_auth_required IS NULL
        THEN jsonb_build_array(p_openable, p_readable, p_writable, p_rtt_open, p_rtt_read, p_rtt_write)
        ELSE jsonb_build_array(p_openable, p_readable, p_writable, p_rtt_open, p_rtt_read, p_rtt_write,
                               p_auth_required) END::text,
        pg_catalog.getdatabaseencoding()))
$$;

DROP FUNCTION bigbrotr.insert_relay_metadata(text, text, bigint, bigint, boolean, boolean, boolean, boolean,
    integer, integer, integer, boolean, text, text, text, text, text, text, jsonb, text, text, text, text,
    jsonb, jsonb);
CREATE FUNCTION bigbrotr.insert_relay_metadata(
    p_relay_url text, p_relay_network text, p_relay_inserted_at bigint, p_generated_at bigint,
    p_nip66_present boolean,
    p_nip66_openable boolean, p_nip66_readable boolean, p_nip66_writable boolean,
    p_nip66_rtt_open integer, p_nip66_rtt_read integer, p_nip66_rtt_write integer,
    p_nip11_present boolean,
    p_nip11_name text, p_nip11_description text, p_nip11_banner text, p_nip11_icon text,
    p_nip11_pubkey text, p_nip11_contact text, p_nip11_supported_nips jsonb, p_nip11_software text,
    p_nip11_version text, p_nip11_privacy_policy text, p_nip11_terms_of_service text,
    p_nip11_limitation jsonb, p_nip11_extra_fields jsonb,
    p_nip66_auth_required boolean DEFAULT NULL  -- 0.3.0; last, so that 0.2.0 calls keep working
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_nip11_id bytea;
    v_nip66_id bytea;
    c record;
BEGIN
    IF p_generated_at IS NULL THEN
        RAISE EXCEPTION 'generated_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO c FROM bigbrotr.relay_url_canonical(p_relay_url, p_relay_network);
    PERFORM bigbrotr.insert_relay(c.normalized, c.relay_network, p_relay_inserted_at);

    IF coalesce(p_nip11_present, false) THEN
        v_nip11_id := bigbrotr.compute_nip11_hash(
            p_nip11_name, p_nip11_description, p_nip11_banner, p_nip11_icon, p_nip11_pubkey,
            p_nip11_contact, p_nip11_supported_nips, p_nip11_software, p_nip11_version,
            p_nip11_privacy_policy, p_nip11_terms_of_service, p_nip11_limitation, p_nip11_extra_fields);
        INSERT INTO bigbrotr.nip11 (id, name, description, banner, icon, pubkey, contact, supported_nips,
                                    software, version, privacy_policy, terms_of_service, limitation, extra_fields)
        VALUES (v_nip11_id, p_nip11_name, p_nip11_description, p_nip11_banner, p_nip11_icon, p_nip11_pubkey,
                p_nip11_contact, p_nip11_supported_nips, p_nip11_software, p_nip11_version,
                p_nip11_privacy_policy, p_nip11_terms_of_service, p_nip11_limitation, p_nip11_extra_fields)
        ON CONFLICT (id) DO NOTHING;
    END IF;

    IF coalesce(p_nip66_present, false) THEN
        v_nip66_id := bigbrotr.compute_nip66_hash(
            coalesce(p_nip66_openable, false), coalesce(p_nip66_readable, false),
            coalesce(p_nip66_writable, false), p_nip66_rtt_open, p_nip66_rtt_read, p_nip66_rtt_write,
            p_nip66_auth_required);
        INSERT INTO bigbrotr.nip66 (id, openable, readable, writable, rtt_open, rtt_read, rtt_write, auth_required)
        VALUES (v_nip66_id, coalesce(p_nip66_openable, false), coalesce(p_nip66_readable, false),
                coalesce(p_nip66_writable, false), p_nip66_rtt_open, p_nip66_rtt_read, p_nip66_rtt_write,
                p_nip66_auth_required)
        ON CONFLICT (id) DO NOTHING;
    END IF;

    INSERT INTO bigbrotr.relay_metadata (relay_url, generated_at, nip11_id, nip66_id)
    VALUES (c.normalized, p_generated_at, v_nip11_id, v_nip66_id)
    ON CONFLICT (relay_url, generated_at) DO NOTHING;
END;
$$;

-- Batch form: p_snapshots is a JSON array of objects
--   {"relay_url", "network", "inserted_at", "generated_at",
--    "nip66": {"openable","readable","writable","rtt_open","rtt_read","rtt_write","auth_required"} | null,
--    "nip11": {"name", ..., "limitation", "extra_fields"} | null}
-- Returns how many snapshots were new.
CREATE OR REPLACE FUNCTION bigbrotr.insert_relay_metadata_batch(p_snapshots jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    s jsonb;
    v_url text;
    v_new integer := 0;
BEGIN
    IF jsonb_typeof(p_snapshots) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'insert_relay_metadata_batch: expected a JSON array, got %',
            coalesce(jsonb_typeof(p_snapshots), 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR s IN SELECT value FROM jsonb_array_elements(p_snapshots) ORDER BY value->>'relay_url' LOOP
        v_url := (bigbrotr.relay_url_canonical(s->>'relay_url', s->>'network')).normalized;
        -- Checked before each insert, so a snapshot repeated within the batch counts once.
        IF NOT EXISTS (SELECT 1 FROM bigbrotr.relay_metadata m
                       WHERE m.relay_url = v_url
                         AND m.generated_at = (s->>'generated_at')::bigint) THEN
            v_new := v_new + 1;
        END IF;
        PERFORM bigbrotr.insert_relay_metadata(
            v_url, s->>'network', (s->>'inserted_at')::bigint, (s->>'generated_at')::bigint,
            jsonb_typeof(s->'nip66') = 'object',
            (s->'nip66'->>'openable')::boolean, (s->'nip66'->>'readable')::boolean,
            (s->'nip66'->>'writable')::boolean, (s->'nip66'->>'rtt_open')::integer,
            (s->'nip66'->>'rtt_read')::integer, (s->'nip66'->>'rtt_write')::integer,
            jsonb_typeof(s->'nip11') = 'object',
            s->'nip11'->>'name', s->'nip11'->>'description', s->'nip11'->>'banner', s->'nip11'->>'icon',
            s->'nip11'->>'pubkey', s->'nip11'->>'contact', s->'nip11'->'supported_nips',
            s->'nip11'->>'software', s->'nip11'->>'version', s->'nip11'->>'privacy_policy',
            s->'nip11'->>'terms_of_service', s->'nip11'->'limitation', s->'nip11'->'extra_fields',
            (s->'nip66'->>'auth_required')::boolean);
    END LOOP;
    RETURN v_new;
END;
$$;

-- relay_metadata_latest: every relay with its newest snapshot and that snapshot's documents. Columns
-- are only ever added at the end (CREATE OR REPLACE VIEW in the upgrades, so views a user built on it
-- survive an update).
CREATE OR REPLACE VIEW bigbrotr.relay_metadata_latest AS
SELECT r.url AS relay_url,
       r.network,
       r.inserted_at,
       m.generated_at,
       m.nip66_id,
       n66.openable  AS nip66_openable,
       n66.readable  AS nip66_readable,
       n66.writable  AS nip66_writable,
       n66.rtt_open  AS nip66_rtt_open,
       n66.rtt_read  AS nip66_rtt_read,
       n66.rtt_write AS nip66_rtt_write,
       m.nip11_id,
       n11.name             AS nip11_name,
       n11.description      AS nip11_description,
       n11.banner           AS nip11_banner,
       n11.icon             AS nip11_icon,
       n11.pubkey           AS nip11_pubkey,
       n11.contact          AS nip11_contact,
       n11.supported_nips   AS nip11_supported_nips,
       n11.software         AS nip11_software,
       n11.version          AS nip11_version,
       n11.privacy_policy   AS nip11_privacy_policy,
       n11.terms_of_service AS nip11_terms_of_service,
       n11.limitation       AS nip11_limitation,
       n11.extra_fields     AS nip11_extra_fields,
       n66.auth_required    AS nip66_auth_required  -- 0.3.0: last, so CREATE OR REPLACE VIEW could add it
FROM bigbrotr.relays r
LEFT JOIN LATERAL (
    SELECT rm.generated_at, rm.nip11_id, rm.nip66_id
    FROM bigbrotr.relay_metadata rm
    WHERE rm.relay_url = r.url
    ORDER BY rm.generated_at DESC
    LIMIT 1
) m ON true
LEFT JOIN bigbrotr.nip11 n11 ON n11.id = m.nip11_id
LEFT JOIN bigbrotr.nip66 n66 ON n66.id = m.nip66_id;

-- A relay's item set for a time window, for NIP-77 negentropy (sql/install/35_relay_items.sql).
CREATE FUNCTION bigbrotr.relay_items(p_relay_url text, p_since bigint, p_until bigint, p_limit integer)
RETURNS TABLE (created_at bigint, id bytea)
LANGUAGE sql STABLE
AS $$
    SELECT er.event_created_at, er.event_id
    FROM bigbrotr.events_relays er
    WHERE er.relay_url = (bigbrotr.relay_url_canonical(p_relay_url, NULL)).normalized
      AND er.event_created_at >= coalesce(p_since, '-9223372036854775808'::bigint)
      AND er.event_created_at <= coalesce(p_until, '9223372036854775807'::bigint)
    ORDER BY er.event_created_at, er.event_id
    LIMIT p_limit
$$;
