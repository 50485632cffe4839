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
