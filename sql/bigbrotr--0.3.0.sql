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
-- Tables of the schema contract (design.md section 3): relays, events, where events were seen,
-- deduplicated NIP-11 / NIP-66 documents, per-check snapshots and service state.

-- The one rule for what a tag value becomes in events.tagvalues (and so in the GIN index
-- events_tagvalues_idx). A value of at most 512 bytes (octet_length of its UTF-8 text, not
-- characters) is its own entry. A longer value is the entry 'sha256:' followed by the lower-case hex
-- SHA-256 of the value's UTF-8 bytes (the JSON string decoded, no quotes): 71 bytes, so no valid
-- event, however long its tags, can meet the GIN item limit (2712 bytes). An exact-match query on
-- any value uses the index in this form:
--   WHERE tagvalues @> ARRAY[bigbrotr.tagvalue_entry($value)]
-- (a literal short value equal to some 'sha256:<hex>' entry would also match; add
--  AND tags @> jsonb_build_array(jsonb_build_array($letter, $value)) to be exact.)
-- C since 0.2.0: the same function (src/sql/tagvalues_sql.c) makes the column's entries, so the
-- rule has one implementation.
CREATE FUNCTION bigbrotr.tagvalue_entry(value text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_tagvalue_entry';

-- The entries (bigbrotr.tagvalue_entry) of the values of the tags whose name is a single character,
-- as relays index them for #x filters. In C (src/sql/tagvalues_sql.c): the expression of the
-- generated column events.tagvalues runs once per stored event and calls no SQL. Its result is
-- exactly that of the SQL form it replaced in 0.2.0 (sql/06_tag_values.sql compares them):
--   SELECT coalesce(array_agg(bigbrotr.tagvalue_entry(t->>1)), '{}'::text[])
--   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]' END) AS t
--   WHERE jsonb_typeof(t) = 'array' AND length(t->>0) = 1 AND t->>1 IS NOT NULL
CREATE FUNCTION bigbrotr.tags_to_tagvalues(tags jsonb) RETURNS text[]
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_tags_to_tagvalues';

-- The one form in which every table holds a relay: the URL normalized by the nostr core's rules
-- (src/nostr/relay_url.c: lower-case scheme and host, IDN in punycode, no default port, no lone
-- trailing slash) and its network by the same rules ('tor' for a valid v3 .onion host). One parse per
-- call. A given network must agree with the URL (NULL: the URL's own). Raises 22023 with the reason
-- for an invalid URL or a contradicting network, 22004 for a NULL URL. The insert procedures pass
-- every relay URL through it; relays refuses any other form (relay_metadata references relays, and
-- events_relays is written only by the procedures, so both hold the same form).
CREATE FUNCTION bigbrotr.relay_url_canonical(url text, network text,
    OUT normalized text, OUT relay_network text)
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_canonical';

CREATE TABLE bigbrotr.relays (
    url         text    PRIMARY KEY,
    network     text    NOT NULL CHECK (network IN ('clearnet', 'tor')),
    inserted_at bigint  NOT NULL,
    -- Normalized, with the network of the URL (a contradicting network raises 22023).
    CONSTRAINT relays_url_normalized CHECK ((bigbrotr.relay_url_canonical(url, network)).normalized = url)
);

CREATE TABLE bigbrotr.events (
    id          bytea   PRIMARY KEY CHECK (length(id) = 32),
    pubkey      bytea   NOT NULL CHECK (length(pubkey) = 32),
    created_at  bigint  NOT NULL,
    kind        integer NOT NULL CHECK (kind BETWEEN 0 AND 65535),
    tags        jsonb   NOT NULL,
    tagvalues   text[]  NOT NULL GENERATED ALWAYS AS (bigbrotr.tags_to_tagvalues(tags)) STORED,
    content     text    NOT NULL,
    sig         bytea   NOT NULL CHECK (length(sig) = 64)
);

-- Where and when each event was first seen. No foreign keys (0.2.0): their per-row checks cost a
-- fifth of the insert, and a foreign key to relays could not exist once the table is distributed by
-- event id (docs/scale-out.md). The insert procedures write only events and relays they have just
-- stored; deleting goes through bigbrotr.delete_relay / bigbrotr.delete_events, which remove the
-- sightings that ON DELETE CASCADE used to, and bigbrotr.delete_orphan_sightings clears those left
-- behind by a DELETE by hand. The relay is kept as its URL text (a compact integer key is out of
-- scope: docs/scale-out.md says why).
-- event_created_at (0.3.0) is the event's created_at, copied by every writer: it lets the index
-- events_relays_relay_url_event_created_at_idx serve a relay's (created_at, id) items of a time window
-- (bigbrotr.relay_items, for NIP-77 negentropy) without visiting events. The writers take it from the
-- event they store or, for insert_sightings, from the same lookup that finds the event archived.
CREATE TABLE bigbrotr.events_relays (
    event_id         bytea   NOT NULL,
    relay_url        text    NOT NULL,
    seen_at          bigint  NOT NULL,
    event_created_at bigint  NOT NULL,
    PRIMARY KEY (event_id, relay_url)
);

CREATE TABLE bigbrotr.nip11 (
    id               bytea PRIMARY KEY,
    name             text,
    description      text,
    banner           text,
    icon             text,
    pubkey           text,
    contact          text,
    supported_nips   jsonb,
    software         text,
    version          text,
    privacy_policy   text,
    terms_of_service text,
    limitation       jsonb,
    extra_fields     jsonb
);

CREATE TABLE bigbrotr.nip66 (
    id        bytea   PRIMARY KEY,
    openable  boolean NOT NULL,
    readable  boolean NOT NULL,
    writable  boolean NOT NULL,
    rtt_open  integer,
    rtt_read  integer,
    rtt_write integer,
    -- Observed by the monitor's read test (0.3.0): true when the relay demanded NIP-42 AUTH (an AUTH
    -- challenge or CLOSED "auth-required:"), false when it answered without; NULL when not tested.
    -- A NIP-66 fact, separate from the NIP-11 claim limitation.auth_required.
    auth_required boolean
);

CREATE TABLE bigbrotr.relay_metadata (
    relay_url    text   NOT NULL REFERENCES bigbrotr.relays (url) ON DELETE CASCADE,
    generated_at bigint NOT NULL,
    nip11_id     bytea  REFERENCES bigbrotr.nip11 (id) ON DELETE SET NULL,
    nip66_id     bytea  REFERENCES bigbrotr.nip66 (id) ON DELETE SET NULL,
    PRIMARY KEY (relay_url, generated_at)
);

CREATE TABLE bigbrotr.service_state (
    service_name text   PRIMARY KEY,
    state        jsonb  NOT NULL DEFAULT '{}'::jsonb,
    updated_at   bigint NOT NULL
);

-- pg_dump keeps the archive and the services' cursors: tables created by an extension are left out
-- of a dump unless marked as configuration tables, and a dump without them would restore an empty
-- archive. pg_dump orders their data by the foreign keys between them, so a restore loads relays
-- before the snapshots that reference them (events_relays has no foreign key and loads in any order).
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.relays', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.events', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.events_relays', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.nip11', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.nip66', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.relay_metadata', '');
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.service_state', '');
-- Indexes, each kept for the queries it serves (written beside it); every index costs every insert.
-- The primary keys serve more than uniqueness:
--   events_pkey (id)               NIP-01 {"ids": [...]}; insert_events' ON CONFLICT (id);
--                                  insert_sightings' known-event lookup (id = ANY); delete_events;
--                                  finder_archive_page's probe per queued event; delete_orphan_sightings.
--   events_relays_pkey (event_id, relay_url)  ON CONFLICT of every sighting insert; "where was event X
--                                  seen" (event_id = $1); delete_events; delete_orphan_events'
--                                  NOT EXISTS probe. It includes the event id, so the table stays
--                                  distributable by it (sql/08_distributable.sql, docs/scale-out.md).
--   relay_metadata_pkey (relay_url, generated_at)  the newest snapshot of a relay, scanned backwards
--                                  (relay_metadata_latest's LATERAL ... ORDER BY generated_at DESC
--                                  LIMIT 1, the monitor's due key max(generated_at) per relay,
--                                  synchronizer_eligible through the view); delete_relay.
--   relays_pkey (url)              every relay lookup and ON CONFLICT (url).
-- Dropped in 0.2.0 (sql/bigbrotr--0.1.0--0.2.0.sql): events_kind_idx (kind) and
-- events_relays_relay_url_idx (relay_url), prefixes of (kind, created_at) and (relay_url, seen_at),
-- which serve the same equality scans; relay_metadata_relay_url_generated_at_idx (relay_url,
-- generated_at DESC), the primary key scanned backwards; events_relays_seen_at_idx (seen_at):
-- no service, procedure or filter asks for sightings by time alone (sightings of one relay by time
-- are (relay_url, seen_at)'s), and on the largest table it cost every sighting a btree insert; the
-- partial indexes nip66_{openable,readable,writable}_idx on (id): nip66 is only ever reached by
-- id from relay_metadata (through nip66_pkey), never scanned by its flags. An archive that wants
-- sightings by time can add a nearly free BRIN: CREATE INDEX ON bigbrotr.events_relays USING brin (seen_at).

-- NIP-01 filters with only since/until (the global feed, newest first: ORDER BY created_at DESC
-- LIMIT n); the synchronizer's narrowing hints (src/services/synchronizer/sync_store.c:
-- SELECT DISTINCT kind / pubkey FROM events WHERE created_at = $1).
CREATE INDEX events_created_at_idx             ON bigbrotr.events (created_at);
-- {"kinds": [...]} with or without since/until, newest first (kind = ANY ... ORDER BY created_at DESC);
-- also the plain kind equality the dropped events_kind_idx served.
CREATE INDEX events_kind_created_at_idx        ON bigbrotr.events (kind, created_at);
-- {"authors": [...]} newest first with since/until (an author's feed, all kinds): pubkey = ANY ...
-- ORDER BY created_at DESC LIMIT n stops after n entries, which (pubkey, kind, created_at) cannot do
-- for an author with many kinds.
CREATE INDEX events_pubkey_created_at_idx      ON bigbrotr.events (pubkey, created_at);
-- {"authors": [...], "kinds": [...]}: the replaceable-event lookups (kind 0 profile, 3 follows,
-- 10002 relay list of an author: the newest one), and any authors+kinds feed newest first.
CREATE INDEX events_pubkey_kind_created_at_idx ON bigbrotr.events (pubkey, kind, created_at);
-- {"#e": [...]}, {"#p": [...]}, {"#t": [...]} and every single-letter tag filter:
-- tagvalues @> ARRAY[bigbrotr.tagvalue_entry($value)].
CREATE INDEX events_tagvalues_idx              ON bigbrotr.events USING gin (tagvalues);

-- "events seen on relay X, newest first" (relay_url = $1 ORDER BY seen_at DESC), per-relay counts
-- and time ranges; delete_relay's sightings; delete_orphan_sightings' probe of relays is by relays_pkey.
CREATE INDEX events_relays_relay_url_seen_at_idx ON bigbrotr.events_relays (relay_url, seen_at);
-- A relay's item set for a time window, (created_at, id) sorted, as NIP-77 negentropy needs it
-- (bigbrotr.relay_items: relay_url = $1 AND event_created_at BETWEEN $2 AND $3 ORDER BY
-- event_created_at, event_id): an index-only scan in the index's order, no Sort, no visit of events
-- (events.created_at cannot be reached from an index on events_relays, hence the copied column).
-- It does not replace (relay_url, seen_at): seen_at is when bigbrotr saw the event, not when the event
-- says it was made (a relay synced late, a backfill, an event published late with an old created_at),
-- so "seen on relay X newest first by seen_at" and per-relay seen_at ranges would have to read all of
-- a relay's entries and sort them.
CREATE INDEX events_relays_relay_url_event_created_at_idx
    ON bigbrotr.events_relays (relay_url, event_created_at, event_id);

-- Snapshots of all relays in a time range (network health over time: generated_at BETWEEN ...).
-- relay_metadata grows by one row per relay per check, so its insert cost is negligible.
CREATE INDEX relay_metadata_generated_at_idx ON bigbrotr.relay_metadata (generated_at);
-- delete_orphan_nip11 / delete_orphan_nip66 (NOT EXISTS per document) and the ON DELETE SET NULL
-- actions of the foreign keys when a document is deleted; "which relays served document X".
CREATE INDEX relay_metadata_nip11_id_idx     ON bigbrotr.relay_metadata (nip11_id);
CREATE INDEX relay_metadata_nip66_id_idx     ON bigbrotr.relay_metadata (nip66_id);
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
-- A relay's item set for a time window, for NIP-77 negentropy (0.3.0): the (created_at, id) of every
-- event linked to the relay in events_relays with since <= created_at <= until, in negentropy's order
-- (created_at, then id), at most p_limit rows (NULL: all). The relay URL is normalized by
-- bigbrotr.relay_url_canonical (22023 for an invalid URL, 22004 for NULL); a NULL bound is open.
-- A plain SQL function, so the planner inlines it: the plan is an index-only scan of
-- events_relays_relay_url_event_created_at_idx in its order, no Sort, no visit of events
-- (sql/09_relay_items.sql checks the plan).
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
-- relay_metadata_latest: every relay with its newest snapshot and that snapshot's documents. Columns
-- are only ever added at the end (CREATE OR REPLACE VIEW in the upgrades, so views a user built on it
-- survive an update).
CREATE VIEW bigbrotr.relay_metadata_latest AS
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
-- The service runtime's SQL surface: which services a user wants running (service_control, read by
-- the launcher worker), how each is doing (service_status, written by the workers), and the
-- functions bigbrotr_start / bigbrotr_stop / bigbrotr_status / bigbrotr_services.

CREATE TABLE bigbrotr.service_control (
    name         text        PRIMARY KEY,
    enabled      boolean     NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    requested_by name        NOT NULL DEFAULT session_user
);

CREATE TABLE bigbrotr.service_status (
    name                text        PRIMARY KEY,
    pid                 integer,
    started_at          timestamptz,
    cycles_run          bigint      NOT NULL DEFAULT 0,
    cycles_failed       bigint      NOT NULL DEFAULT 0,
    last_cycle_start    timestamptz,
    last_cycle_end      timestamptz,
    last_cycle_duration interval,
    last_error          text,
    last_error_at       timestamptz,
    last_cycle_stats    jsonb
);

-- The front door: the four control functions live in the extension's schema (@extschema@, normally
-- public), so that right after CREATE EXTENSION they are callable unqualified with the default
-- search_path: SELECT bigbrotr_start('monitor'); SELECT * FROM bigbrotr_status();

-- Services compiled into the library: name, lifecycle ('one-shot' or 'continuous'), description.
CREATE FUNCTION @extschema@.bigbrotr_services(
    OUT name text, OUT lifecycle text, OUT description text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bigbrotr_services'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION @extschema@.bigbrotr_start(service text) RETURNS boolean
AS 'MODULE_PATHNAME', 'bigbrotr_start'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.bigbrotr_stop(service text) RETURNS boolean
AS 'MODULE_PATHNAME', 'bigbrotr_stop'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.bigbrotr_status(
    OUT name text, OUT lifecycle text, OUT enabled boolean, OUT running boolean, OUT pid integer,
    OUT started_at timestamptz, OUT cycles_run bigint, OUT cycles_failed bigint,
    OUT last_cycle_start timestamptz, OUT last_cycle_end timestamptz,
    OUT last_cycle_duration interval, OUT last_error text, OUT last_cycle_stats jsonb)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.name, s.lifecycle, coalesce(c.enabled, false),
           a.pid IS NOT NULL, a.pid, a.backend_start,
           coalesce(st.cycles_run, 0), coalesce(st.cycles_failed, 0),
           st.last_cycle_start, st.last_cycle_end, st.last_cycle_duration, st.last_error,
           st.last_cycle_stats
    FROM @extschema@.bigbrotr_services() s
    LEFT JOIN bigbrotr.service_control c ON c.name = s.name
    LEFT JOIN bigbrotr.service_status st ON st.name = s.name
    LEFT JOIN LATERAL (
        SELECT psa.pid, psa.backend_start FROM pg_catalog.pg_stat_activity psa
        WHERE psa.backend_type = 'bigbrotr ' || s.name
        ORDER BY psa.backend_start DESC LIMIT 1
    ) a ON true
    ORDER BY s.name
$$;

-- Starting and stopping services is for superusers; a superuser may delegate it with
--   GRANT EXECUTE ON FUNCTION bigbrotr_start(text), bigbrotr_stop(text) TO some_role;
REVOKE ALL ON FUNCTION @extschema@.bigbrotr_start(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.bigbrotr_stop(text) FROM PUBLIC;
REVOKE ALL ON TABLE bigbrotr.service_control FROM PUBLIC;
REVOKE ALL ON TABLE bigbrotr.service_status FROM PUBLIC;
GRANT USAGE ON SCHEMA bigbrotr TO PUBLIC;

-- The schema-qualified names, for scripts that call bigbrotr.bigbrotr_start(...) and the like: thin
-- forwards to the front door. They are not SECURITY DEFINER and hold no privilege of their own: the
-- caller needs EXECUTE on the function they forward to, so the GRANT and REVOKE above govern both
-- names (granting on these would add nothing).
CREATE FUNCTION bigbrotr.bigbrotr_services(
    OUT name text, OUT lifecycle text, OUT description text)
RETURNS SETOF record
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM @extschema@.bigbrotr_services() $$;

CREATE FUNCTION bigbrotr.bigbrotr_start(service text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT
AS $$ SELECT @extschema@.bigbrotr_start(service) $$;

CREATE FUNCTION bigbrotr.bigbrotr_stop(service text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT
AS $$ SELECT @extschema@.bigbrotr_stop(service) $$;

CREATE FUNCTION bigbrotr.bigbrotr_status(
    OUT name text, OUT lifecycle text, OUT enabled boolean, OUT running boolean, OUT pid integer,
    OUT started_at timestamptz, OUT cycles_run bigint, OUT cycles_failed bigint,
    OUT last_cycle_start timestamptz, OUT last_cycle_end timestamptz,
    OUT last_cycle_duration interval, OUT last_error text, OUT last_cycle_stats jsonb)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$ SELECT * FROM @extschema@.bigbrotr_status() $$;
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

-- The finder's archive queue: one row per stored kind 3 or kind 10002 event, added by a trigger in the
-- transaction that first stores the event (so each event is queued exactly once, whichever relay it
-- came from and however late it arrives). The finder reads it in id order, a page at a time through
-- the primary key, and deletes each page in the transaction that stores the relays found in it: a
-- page costs O(page) however large the archive, and a stopped or crashed finder resumes where its last
-- committed page left off. An event whose transaction is still open when a page is read is simply read
-- in a later page or cycle. The queue is transient state: pg_dump leaves it out.
CREATE TABLE bigbrotr.finder_queue (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id bytea  NOT NULL
);
COMMENT ON TABLE bigbrotr.finder_queue IS
    'kind 3 and kind 10002 events not yet read by the finder (filled by a trigger on bigbrotr.events)';

CREATE FUNCTION bigbrotr.finder_queue_event() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO bigbrotr.finder_queue (event_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$;

-- AFTER INSERT fires only for rows really inserted (not for ON CONFLICT DO NOTHING duplicates).
CREATE TRIGGER events_finder_queue AFTER INSERT ON bigbrotr.events
    FOR EACH ROW WHEN (NEW.kind IN (3, 10002)) EXECUTE FUNCTION bigbrotr.finder_queue_event();

-- One page of the queue from position p_from on, with what the finder reads of each event: the `r`
-- tag values of a 10002, the content of a kind 3 (kind NULL: the event was deleted since). Inlined by
-- the planner (a plain SQL function), so EXPLAIN of a call shows the plan the finder runs: an index
-- scan of the queue's key that stops at the LIMIT, and one primary-key probe of events per row.
CREATE FUNCTION bigbrotr.finder_archive_page(p_from bigint, p_limit integer)
RETURNS TABLE (queue_id bigint, kind integer, relay_tags text[], content text)
LANGUAGE sql STABLE
AS $$
    SELECT q.id, e.kind,
           CASE WHEN e.kind = 10002 THEN ARRAY(
               SELECT t->>1 FROM jsonb_array_elements(e.tags) t
               WHERE jsonb_typeof(t) = 'array' AND t->>0 = 'r' AND jsonb_typeof(t->1) = 'string') END,
           CASE WHEN e.kind = 3 THEN e.content END
    FROM bigbrotr.finder_queue q LEFT JOIN bigbrotr.events e ON e.id = q.event_id
    WHERE q.id >= p_from
    ORDER BY q.id
    LIMIT p_limit
$$;
-- The nostr core (src/nostr) exposed to SQL: event verification and ids, relay URL rules.

CREATE TYPE bigbrotr.event_verification AS (valid boolean, reason text, message text);

-- Parses the event strictly, recomputes its id and verifies its BIP-340 signature. reason is a
-- stable code ('ok', 'bad_json', 'bad_field', 'id_mismatch', 'bad_signature', ...).
CREATE FUNCTION bigbrotr.event_verify(event text) RETURNS bigbrotr.event_verification
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_event_verify_text';

CREATE FUNCTION bigbrotr.event_verify(event jsonb) RETURNS bigbrotr.event_verification
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT bigbrotr.event_verify(event::text) $$;

-- The NIP-01 id (lower-case hex SHA-256 of [0,pubkey,created_at,kind,tags,content]).
CREATE FUNCTION bigbrotr.event_id(pubkey text, created_at bigint, kind integer, tags jsonb, content text)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_event_id_fields';

CREATE FUNCTION bigbrotr.event_id(event jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    IF jsonb_typeof(event) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'event_id: expected a JSON object, got %', jsonb_typeof(event)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(event->'pubkey') IS DISTINCT FROM 'string'
       OR jsonb_typeof(event->'created_at') IS DISTINCT FROM 'number'
       OR jsonb_typeof(event->'kind') IS DISTINCT FROM 'number'
       OR jsonb_typeof(event->'tags') IS DISTINCT FROM 'array'
       OR jsonb_typeof(event->'content') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'event_id: the event needs pubkey (string), created_at (number), kind (number), tags (array) and content (string)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN bigbrotr.event_id(event->>'pubkey', (event->>'created_at')::bigint, (event->>'kind')::integer,
                             event->'tags', event->>'content');
END;
$$;

-- Never raises: (valid, normalized, network, address_class, reason, message).
CREATE FUNCTION bigbrotr.relay_url_check(url text,
    OUT valid boolean, OUT normalized text, OUT network text, OUT address_class text,
    OUT reason text, OUT message text)
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_check';

-- The normal form (lower-case host, no default port, no lone trailing slash); invalid URLs raise.
CREATE FUNCTION bigbrotr.relay_url_normalize(url text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_normalize';

-- 'tor' for .onion v3 hosts, 'clearnet' otherwise; invalid URLs raise.
CREATE FUNCTION bigbrotr.relay_url_network(url text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_network';
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
