-- Sightings of known events (insert_sightings) and the delete procedures that replace the ON DELETE
-- CASCADE of events_relays' former foreign keys: delete_relay, delete_events, delete_orphan_sightings,
-- and delete_orphan_events, which keeps working without them.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(26);

CREATE FUNCTION pg_temp.id(n int) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT decode(lpad(to_hex(n), 64, '0'), 'hex') $$;
-- Events 1..6 archived, seen on wss://a.tap (all) and wss://b.tap (1..3); snapshots of both relays.
SELECT is(bigbrotr.insert_events(array_agg(pg_temp.id(i)), array_fill(decode(repeat('a1', 32), 'hex'), ARRAY[6]),
    array_agg(i::bigint), array_fill(1, ARRAY[6]), array_fill('[["t","tap"]]'::jsonb, ARRAY[6]), array_agg('e' || i),
    array_fill(decode(repeat('b1', 64), 'hex'), ARRAY[6]), array_fill('wss://a.tap'::text, ARRAY[6]),
    array_fill('clearnet'::text, ARRAY[6]), array_fill(1::bigint, ARRAY[6]), array_fill(10::bigint, ARRAY[6])), 6,
    'six events archived through insert_events')
FROM generate_series(1, 6) i;

-- insert_sightings
SELECT is(bigbrotr.insert_sightings(ARRAY[pg_temp.id(3), pg_temp.id(1), pg_temp.id(99), pg_temp.id(2), pg_temp.id(1),
                                          NULL, pg_temp.id(98), pg_temp.id(99)], 'WSS://B.Tap:443/', NULL, 5, 20),
          ARRAY[pg_temp.id(98), pg_temp.id(99)],
          'insert_sightings returns the unknown ids, sorted and distinct');
SELECT is((SELECT array_agg(encode(event_id, 'hex') || ' ' || seen_at ORDER BY event_id) FROM bigbrotr.events_relays
           WHERE relay_url = 'wss://b.tap'),
          ARRAY[encode(pg_temp.id(1), 'hex') || ' 20', encode(pg_temp.id(2), 'hex') || ' 20', encode(pg_temp.id(3), 'hex') || ' 20'],
          'one sighting per known id, on the normalized relay');
SELECT is((SELECT count(*)::int FROM bigbrotr.events_relays WHERE event_id IN (pg_temp.id(98), pg_temp.id(99))), 0,
          'nothing is recorded for an unknown id');
SELECT is((SELECT url || ' ' || network || ' ' || inserted_at FROM bigbrotr.relays WHERE url ILIKE '%b.tap%'),
          'wss://b.tap clearnet 5', 'the relay is inserted, normalized, with its network');
SELECT is(bigbrotr.insert_sightings(ARRAY[pg_temp.id(1), pg_temp.id(2)], 'wss://b.tap', 'clearnet', 7, 30), '{}'::bytea[],
          'all known: an empty array');
SELECT is((SELECT seen_at FROM bigbrotr.events_relays WHERE event_id = pg_temp.id(1) AND relay_url = 'wss://b.tap'), 20::bigint,
          'a sighting again keeps the first seen_at');
SELECT is((SELECT inserted_at FROM bigbrotr.relays WHERE url = 'wss://b.tap'), 5::bigint, 'an existing relay is kept as it was');
SELECT is(bigbrotr.insert_sightings('{}'::bytea[], 'wss://b.tap', NULL, 1, 1), '{}'::bytea[], 'no ids: an empty array');
SELECT throws_ok($$SELECT bigbrotr.insert_sightings(ARRAY[decode(repeat('01', 32), 'hex')], 'wss://bad host', NULL, 1, 1)$$,
                 '22023', NULL, 'an invalid relay URL is refused with 22023');
SELECT throws_ok($$SELECT bigbrotr.insert_sightings(NULL, 'wss://b.tap', NULL, 1, 1)$$, '22004', NULL, 'NULL ids are refused');
SELECT throws_ok($$SELECT bigbrotr.insert_sightings(ARRAY[decode(repeat('01', 32), 'hex')], 'wss://b.tap', NULL, 1, NULL)$$,
                 '22004', NULL, 'a NULL seen_at is refused');

-- Snapshots of both relays (relay_metadata keeps its foreign keys).
SELECT bigbrotr.insert_relay_metadata_batch(
    '[{"relay_url": "wss://a.tap", "network": "clearnet", "inserted_at": 1, "generated_at": 100, "nip66": {"openable": true}},
      {"relay_url": "wss://a.tap", "network": "clearnet", "inserted_at": 1, "generated_at": 200, "nip66": {"openable": false}},
      {"relay_url": "wss://b.tap", "network": "clearnet", "inserted_at": 1, "generated_at": 100, "nip66": {"openable": true}}]');

-- delete_relay: its sightings, its snapshots, the relay; the events stay (seen elsewhere or orphans).
SELECT is((SELECT (d.sightings, d.snapshots, d.relays)::text FROM bigbrotr.delete_relay('WSS://A.Tap/') d), '(6,2,1)',
          'delete_relay counts the sightings, snapshots and relay it removed');
SELECT is((SELECT count(*)::int FROM bigbrotr.events_relays WHERE relay_url = 'wss://a.tap'), 0, 'no sighting of the relay is left');
SELECT is((SELECT count(*)::int FROM bigbrotr.relay_metadata WHERE relay_url = 'wss://a.tap'), 0, 'nor a snapshot');
SELECT is((SELECT count(*)::int FROM bigbrotr.relays WHERE url = 'wss://a.tap'), 0, 'nor the relay');
SELECT is((SELECT count(*)::int FROM bigbrotr.events_relays WHERE relay_url = 'wss://b.tap'), 3, 'the other relay''s sightings are kept');
SELECT is((SELECT (d.sightings, d.snapshots, d.relays)::text FROM bigbrotr.delete_relay('wss://a.tap') d), '(0,0,0)',
          'a relay that is not there: nothing removed');
SELECT is(bigbrotr.delete_orphan_events(), 3, 'delete_orphan_events removes the events no relay has any more (4, 5, 6)');
SELECT is((SELECT array_agg(encode(id, 'hex') ORDER BY id) FROM bigbrotr.events WHERE content LIKE 'e%'),
          ARRAY[encode(pg_temp.id(1), 'hex'), encode(pg_temp.id(2), 'hex'), encode(pg_temp.id(3), 'hex')],
          'the events still seen somewhere are kept');

-- delete_events: sightings first, then the events.
SELECT is((SELECT (d.sightings, d.events)::text FROM bigbrotr.delete_events(ARRAY[pg_temp.id(1), pg_temp.id(2), pg_temp.id(77)]) d),
          '(2,2)', 'delete_events counts the sightings and events it removed; unknown ids are ignored');
SELECT is((SELECT count(*)::int FROM bigbrotr.events_relays WHERE event_id IN (pg_temp.id(1), pg_temp.id(2))), 0,
          'no sighting of a deleted event is left');
SELECT is((SELECT count(*)::int FROM bigbrotr.events WHERE id IN (pg_temp.id(1), pg_temp.id(2))), 0, 'the events are gone');

-- delete_orphan_sightings: what a DELETE by hand leaves behind.
DELETE FROM bigbrotr.events WHERE id = pg_temp.id(3);
INSERT INTO bigbrotr.events (id, pubkey, created_at, kind, tags, content, sig)
VALUES (pg_temp.id(4), decode(repeat('a1', 32), 'hex'), 4, 1, '[]', 'e4', decode(repeat('b1', 64), 'hex'));
INSERT INTO bigbrotr.events_relays VALUES (pg_temp.id(4), 'wss://gone.tap', 1, 4), (pg_temp.id(4), 'wss://b.tap', 2, 4);
SELECT is(bigbrotr.delete_orphan_sightings(), 2::bigint,
          'delete_orphan_sightings removes sightings of a deleted event and of a missing relay');
SELECT is((SELECT array_agg(relay_url) FROM bigbrotr.events_relays WHERE event_id = pg_temp.id(4)), ARRAY['wss://b.tap'],
          'a sighting whose event and relay exist is kept');
SELECT is(bigbrotr.delete_orphan_sightings(), 0::bigint, 'nothing left to remove');

SELECT * FROM finish();
ROLLBACK;
