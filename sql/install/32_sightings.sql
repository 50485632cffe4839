-- Sightings of known events, and the deletes that replace the ON DELETE CASCADE of events_relays'
-- former foreign keys (dropped in 0.2.0: their per-row checks cost a fifth of every insert, and a
-- table distributed by event id cannot keep a foreign key to relays, docs/scale-out.md).
-- Delete relays and events through these procedures; after a DELETE by hand,
-- bigbrotr.delete_orphan_sightings removes the sightings left behind. The same functions are
-- created by the upgrade scripts (sql/bigbrotr--0.1.0--0.2.0.sql, insert_sightings again in
-- sql/bigbrotr--0.2.0--0.3.0.sql); the upgrade test compares the catalogs.

-- Records that the events p_ids, already archived, were seen on a relay at p_seen_at, and returns
-- the ids that are not in events (sorted, distinct; '{}' when none), for which nothing is recorded:
-- the caller verifies and inserts those through insert_events. The relay URL is normalized
-- (relay_url_canonical: 22023 for an invalid URL or a contradicting network) and the relay inserted
-- if absent. Idempotent (ON CONFLICT DO NOTHING keeps the first seen_at); NULL ids are ignored.
-- Rows are inserted in id order, as insert_events does, so concurrent workers do not deadlock.
CREATE FUNCTION bigbrotr.insert_sightings(
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

-- Deletes a relay with its sightings and its snapshots (what ON DELETE CASCADE did), returning how
-- many rows of each went. The URL is normalized first, as every procedure stores it. Events are kept:
-- bigbrotr.delete_orphan_events then removes those no relay has any more. A synchronizer still
-- syncing the relay may record new sightings after this commits: stop it first (synchronizer_relays
-- with enabled = false), or run bigbrotr.delete_orphan_sightings afterwards.
CREATE FUNCTION bigbrotr.delete_relay(p_url text,
    OUT sightings bigint, OUT snapshots bigint, OUT relays bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_url text := (bigbrotr.relay_url_canonical(p_url, NULL)).normalized;
BEGIN
    -- The relay's row lock first: concurrent deletes of one relay wait for each other. Snapshots
    -- before the relay, so that they are counted here, not removed by relay_metadata's cascade.
    PERFORM 1 FROM bigbrotr.relays r WHERE r.url = v_url FOR UPDATE;
    DELETE FROM bigbrotr.events_relays er WHERE er.relay_url = v_url;
    GET DIAGNOSTICS sightings = ROW_COUNT;
    DELETE FROM bigbrotr.relay_metadata m WHERE m.relay_url = v_url;
    GET DIAGNOSTICS snapshots = ROW_COUNT;
    DELETE FROM bigbrotr.relays r WHERE r.url = v_url;
    GET DIAGNOSTICS relays = ROW_COUNT;
END;
$$;

-- Deletes events with their sightings (sightings first, what ON DELETE CASCADE did), returning how
-- many rows of each went. Ids that are not archived are ignored.
CREATE FUNCTION bigbrotr.delete_events(p_ids bytea[], OUT sightings bigint, OUT events bigint)
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM bigbrotr.events_relays er WHERE er.event_id = ANY (p_ids);
    GET DIAGNOSTICS sightings = ROW_COUNT;
    DELETE FROM bigbrotr.events e WHERE e.id = ANY (p_ids);
    GET DIAGNOSTICS events = ROW_COUNT;
END;
$$;

-- Deletes the sightings whose event or relay no longer exists (left by a DELETE by hand, or a
-- sighting recorded while its relay was being deleted); returns how many. One pass of events_relays
-- with a probe of each primary key per row.
CREATE FUNCTION bigbrotr.delete_orphan_sightings() RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_n bigint;
BEGIN
    DELETE FROM bigbrotr.events_relays er
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.events e WHERE e.id = er.event_id)
       OR NOT EXISTS (SELECT 1 FROM bigbrotr.relays r WHERE r.url = er.relay_url);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;
