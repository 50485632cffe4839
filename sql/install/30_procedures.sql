-- Insert procedures of the schema contract. Every insert is idempotent (ON CONFLICT DO NOTHING),
-- nip11/nip66 rows are keyed by the SHA-256 of their fields so identical documents are stored once.
-- The hash is the built-in sha256(bytea) of the text form of a jsonb array of the fields, taken as
-- the bytes the database stores it in: convert_to into the database's own encoding converts nothing.
-- These are exactly the bytes the earlier pgcrypto-based form, digest(text, 'sha256'), hashed, so
-- stored ids keep matching without pgcrypto (sql/05_hash_vectors.sql checks known vectors).
-- The batch forms take arrays (one call per batch) and are what the background workers use.
-- Every relay URL a procedure is given is stored as bigbrotr.relay_url_canonical makes it (the
-- nostr core's normal form, the network by its rules); an invalid URL or a network that contradicts
-- it raises 22023 with the reason. A NULL network means the URL's own.

CREATE FUNCTION bigbrotr.compute_nip11_hash(
    p_name text, p_description text, p_banner text, p_icon text, p_pubkey text, p_contact text,
    p_supported_nips jsonb, p_software text, p_version text, p_privacy_policy text,
    p_terms_of_service text, p_limitation jsonb, p_extra_fields jsonb
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- jsonb's text form is canonical (sorted keys, no insignificant whitespace), so equal
    -- documents hash equally however their JSON was written.
    SELECT pg_catalog.sha256(pg_catalog.convert_to(jsonb_build_array(
        p_name, p_description, p_banner, p_icon, p_pubkey, p_contact, p_supported_nips, p_software,
        p_version, p_privacy_policy, p_terms_of_service, p_limitation, p_extra_fields)::text,
        pg_catalog.getdatabaseencoding()))
$$;

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

CREATE FUNCTION bigbrotr.insert_relay(p_url text, p_network text, p_inserted_at bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c record;
BEGIN
    IF p_url IS NULL OR p_url = '' THEN
        RAISE EXCEPTION 'relay url must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_inserted_at IS NULL THEN
        RAISE EXCEPTION 'inserted_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO c FROM bigbrotr.relay_url_canonical(p_url, p_network);
    INSERT INTO bigbrotr.relays (url, network, inserted_at)
    VALUES (c.normalized, c.relay_network, p_inserted_at)
    ON CONFLICT (url) DO NOTHING;
END;
$$;

-- Batch form: returns how many relays were new (spellings of one relay are one relay).
CREATE FUNCTION bigbrotr.insert_relays(p_urls text[], p_networks text[], p_inserted_ats bigint[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_new integer;
BEGIN
    IF cardinality(p_urls) IS DISTINCT FROM cardinality(p_networks)
       OR cardinality(p_urls) IS DISTINCT FROM cardinality(p_inserted_ats) THEN
        RAISE EXCEPTION 'insert_relays: arrays must have the same length (urls %, networks %, inserted_ats %)',
            cardinality(p_urls), cardinality(p_networks), cardinality(p_inserted_ats)
            USING ERRCODE = 'array_subscript_error';
    END IF;
    INSERT INTO bigbrotr.relays (url, network, inserted_at)
    SELECT DISTINCT ON (c.normalized) c.normalized, c.relay_network, x.t
    FROM unnest(p_urls, p_networks, p_inserted_ats) AS x(u, n, t),
         LATERAL bigbrotr.relay_url_canonical(x.u, x.n) AS c
    ORDER BY c.normalized, x.t
    ON CONFLICT (url) DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    RETURN v_new;
END;
$$;

CREATE FUNCTION bigbrotr.insert_event(
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
CREATE FUNCTION bigbrotr.insert_events(
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
CREATE FUNCTION bigbrotr.insert_relay_metadata_batch(p_snapshots jsonb)
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

CREATE FUNCTION bigbrotr.delete_orphan_events() RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM bigbrotr.events e
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.events_relays er WHERE er.event_id = e.id);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

CREATE FUNCTION bigbrotr.delete_orphan_nip11() RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM bigbrotr.nip11 n
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.relay_metadata m WHERE m.nip11_id = n.id);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;

CREATE FUNCTION bigbrotr.delete_orphan_nip66() RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_n integer;
BEGIN
    DELETE FROM bigbrotr.nip66 n
    WHERE NOT EXISTS (SELECT 1 FROM bigbrotr.relay_metadata m WHERE m.nip66_id = n.id);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;
