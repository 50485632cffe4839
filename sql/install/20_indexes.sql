-- Indexes of the schema contract: the query shapes relays and analysts use.
CREATE INDEX events_created_at_idx             ON bigbrotr.events (created_at);
CREATE INDEX events_kind_idx                   ON bigbrotr.events (kind);
CREATE INDEX events_kind_created_at_idx        ON bigbrotr.events (kind, created_at);
CREATE INDEX events_pubkey_created_at_idx      ON bigbrotr.events (pubkey, created_at);
CREATE INDEX events_pubkey_kind_created_at_idx ON bigbrotr.events (pubkey, kind, created_at);
CREATE INDEX events_tagvalues_idx              ON bigbrotr.events USING gin (tagvalues);

CREATE INDEX events_relays_relay_url_idx         ON bigbrotr.events_relays (relay_url);
CREATE INDEX events_relays_seen_at_idx           ON bigbrotr.events_relays (seen_at);
CREATE INDEX events_relays_relay_url_seen_at_idx ON bigbrotr.events_relays (relay_url, seen_at);

CREATE INDEX nip66_openable_idx ON bigbrotr.nip66 (id) WHERE openable;
CREATE INDEX nip66_readable_idx ON bigbrotr.nip66 (id) WHERE readable;
CREATE INDEX nip66_writable_idx ON bigbrotr.nip66 (id) WHERE writable;

CREATE INDEX relay_metadata_generated_at_idx           ON bigbrotr.relay_metadata (generated_at);
CREATE INDEX relay_metadata_nip11_id_idx               ON bigbrotr.relay_metadata (nip11_id);
CREATE INDEX relay_metadata_nip66_id_idx               ON bigbrotr.relay_metadata (nip66_id);
CREATE INDEX relay_metadata_relay_url_generated_at_idx ON bigbrotr.relay_metadata (relay_url, generated_at DESC);
