-- Tables of the schema contract (design.md section 3): relays, events, where events were seen,
-- deduplicated NIP-11 / NIP-66 documents, per-check snapshots and service state.

-- Values of the tags whose name is a single character, as relays index them for #x filters.
CREATE FUNCTION bigbrotr.tags_to_tagvalues(tags jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(t->>1), '{}'::text[])
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]'::jsonb END) AS t
    WHERE jsonb_typeof(t) = 'array' AND length(t->>0) = 1 AND t->>1 IS NOT NULL
$$;

CREATE TABLE bigbrotr.relays (
    url         text    PRIMARY KEY,
    network     text    NOT NULL CHECK (network IN ('clearnet', 'tor')),
    inserted_at bigint  NOT NULL
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

CREATE TABLE bigbrotr.events_relays (
    event_id    bytea   NOT NULL REFERENCES bigbrotr.events (id) ON DELETE CASCADE,
    relay_url   text    NOT NULL REFERENCES bigbrotr.relays (url) ON DELETE CASCADE,
    seen_at     bigint  NOT NULL,
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
    rtt_write integer
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
