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
