-- Insert procedures: idempotence, batch forms, content-hash dedup, the delete procedures that replace
-- events_relays' cascades (0.2.0), orphan clean-up, the view.
SET search_path = bigbrotr, public;
SET client_min_messages = warning;

-- insert_event inserts the event, the relay and the link; a second call changes nothing.
SELECT insert_event(decode(repeat('01', 32), 'hex'), decode(repeat('a1', 32), 'hex'), 1700000000, 1,
                    '[["t","pg"],["e","x"]]', 'hello', decode(repeat('b1', 64), 'hex'),
                    'wss://relay.one', 'clearnet', 100, 200);
SELECT insert_event(decode(repeat('01', 32), 'hex'), decode(repeat('a1', 32), 'hex'), 1700000000, 1,
                    '[["t","pg"],["e","x"]]', 'hello', decode(repeat('b1', 64), 'hex'),
                    'wss://relay.one', 'clearnet', 999, 999);
SELECT encode(id, 'hex') = repeat('01', 32) AS id_ok, kind, tagvalues, content FROM events;
SELECT url, network, inserted_at FROM relays;
SELECT relay_url, seen_at FROM events_relays;

-- The same event seen on a second relay adds only the link.
SELECT insert_event(decode(repeat('01', 32), 'hex'), decode(repeat('a1', 32), 'hex'), 1700000000, 1,
                    '[["t","pg"]]', 'hello', decode(repeat('b1', 64), 'hex'),
                    'ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', 'tor', 300, 400);
SELECT count(*) AS events FROM events;
SELECT relay_url, seen_at FROM events_relays ORDER BY relay_url;

-- insert_relay: idempotent (also across spellings of one URL), validates its arguments.
SELECT insert_relay('wss://relay.three', 'clearnet', 1);
SELECT insert_relay('WSS://Relay.Three:443/', NULL, 2);
SELECT url, network, inserted_at FROM relays WHERE url = 'wss://relay.three';
SELECT insert_relay('wss://bad', 'i2p', 1);
SELECT insert_relay(NULL, 'clearnet', 1);
SELECT insert_relay('', 'clearnet', 1);
SELECT insert_relay('wss://bad', 'clearnet', NULL);

-- Batch forms return how many rows were new; duplicates inside a batch are harmless.
SELECT insert_relays(ARRAY['wss://b1', 'wss://b2', 'wss://b1', 'wss://relay.three'],
                     ARRAY['clearnet', 'clearnet', 'clearnet', 'clearnet'], ARRAY[5, 5, 6, 7]::bigint[]);
SELECT insert_relays(ARRAY['wss://b1'], ARRAY['clearnet', 'tor'], ARRAY[1]::bigint[]);
SELECT insert_relays(ARRAY['wss://b9'], ARRAY['onion'], ARRAY[1]::bigint[]);
SELECT insert_relays('{}'::text[], '{}'::text[], '{}'::bigint[]);

SELECT insert_events(
    ARRAY[decode(repeat('02', 32), 'hex'), decode(repeat('03', 32), 'hex'), decode(repeat('02', 32), 'hex'), decode(repeat('01', 32), 'hex')],
    ARRAY[decode(repeat('a2', 32), 'hex'), decode(repeat('a3', 32), 'hex'), decode(repeat('a2', 32), 'hex'), decode(repeat('a1', 32), 'hex')],
    ARRAY[10, 20, 10, 1700000000]::bigint[], ARRAY[1, 7, 1, 1],
    ARRAY['[]'::jsonb, '[["p","z"]]'::jsonb, '[]'::jsonb, '[]'::jsonb],
    ARRAY['two', 'three', 'two', 'hello'],
    ARRAY[decode(repeat('b2', 64), 'hex'), decode(repeat('b3', 64), 'hex'), decode(repeat('b2', 64), 'hex'), decode(repeat('b1', 64), 'hex')],
    ARRAY['wss://b1', 'wss://b1', 'wss://new.relay', 'wss://b1'],
    ARRAY['clearnet', 'clearnet', 'clearnet', 'clearnet'],
    ARRAY[50, 50, 50, 50]::bigint[], ARRAY[60, 61, 62, 63]::bigint[]) AS new_events;
SELECT encode(event_id, 'hex') AS event, relay_url, seen_at FROM events_relays ORDER BY 1, 2;
SELECT insert_events(ARRAY[decode(repeat('04', 32), 'hex')], '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');

-- insert_relay_metadata: identical documents are stored once, snapshots once per (relay, time).
SELECT insert_relay_metadata('wss://b1', 'clearnet', 5, 1000,
    true, true, true, false, 12, 34, NULL,
    true, 'Relay B1', 'desc', NULL, NULL, NULL, 'admin@b1', '[1, 11]', 'strfry', '1.0', NULL, NULL,
    '{"max_limit": 500}', '{"x": 1}');
SELECT insert_relay_metadata('wss://b2', 'clearnet', 5, 1000,
    true, true, true, false, 12, 34, NULL,
    true, 'Relay B1', 'desc', NULL, NULL, NULL, 'admin@b1', '[1, 11]', 'strfry', '1.0', NULL, NULL,
    '{"max_limit": 500}', '{"x": 1}');
SELECT insert_relay_metadata('wss://b1', 'clearnet', 5, 1000,
    true, false, false, false, NULL, NULL, NULL, false,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT insert_relay_metadata('wss://b1', 'clearnet', 5, 2000,
    true, false, false, false, NULL, NULL, NULL, false,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT (SELECT count(*) FROM nip11) AS nip11_rows, (SELECT count(*) FROM nip66) AS nip66_rows,
       (SELECT count(*) FROM relay_metadata) AS snapshots;
SELECT relay_url, generated_at, nip11_id IS NOT NULL AS has_nip11, nip66_id IS NOT NULL AS has_nip66
FROM relay_metadata ORDER BY 1, 2;
-- Key order and whitespace do not change the hash.
SELECT compute_nip11_hash('n', NULL, NULL, NULL, NULL, NULL, '[1]', NULL, NULL, NULL, NULL, '{"a":1,"b":2}', NULL)
     = compute_nip11_hash('n', NULL, NULL, NULL, NULL, NULL, '[1]', NULL, NULL, NULL, NULL, '{ "b": 2, "a": 1 }', NULL) AS same_hash;
SELECT compute_nip66_hash(true, true, false, 1, 2, NULL) <> compute_nip66_hash(true, true, false, 1, 3, NULL) AS differs;

SELECT insert_relay_metadata_batch('[
  {"relay_url": "wss://b2", "network": "clearnet", "inserted_at": 5, "generated_at": 3000,
   "nip66": {"openable": true, "readable": true, "writable": true, "rtt_open": 1, "rtt_read": 2, "rtt_write": 3},
   "nip11": {"name": "B2", "supported_nips": [1], "limitation": {"auth_required": false}, "extra_fields": {"k": "v"}}},
  {"relay_url": "wss://b3", "network": "clearnet", "inserted_at": 5, "generated_at": 3000, "nip66": {"openable": false}, "nip11": null},
  {"relay_url": "wss://b3", "network": "clearnet", "inserted_at": 5, "generated_at": 3000, "nip66": {"openable": false}, "nip11": null}
]') AS new_snapshots;
-- The same snapshot again is not new.
SELECT insert_relay_metadata_batch('[{"relay_url": "wss://b3", "network": "clearnet", "inserted_at": 5, "generated_at": 3000, "nip66": {"openable": false}}]') AS new_again;
SELECT insert_relay_metadata_batch('{"not": "an array"}');

-- The view: every relay with its newest snapshot.
SELECT relay_url, network, generated_at, nip66_openable, nip66_readable, nip66_rtt_open, nip11_name, nip11_extra_fields
FROM relay_metadata_latest ORDER BY relay_url;

-- Orphans: events seen on no relay, documents no snapshot uses.
SELECT * FROM delete_relay('WSS://New.Relay');
SELECT delete_orphan_events() AS orphans_after_relay_delete;
DELETE FROM events_relays WHERE event_id = decode(repeat('03', 32), 'hex');
SELECT delete_orphan_events() AS orphan_events;
SELECT delete_orphan_events() AS orphan_events_again;
SELECT encode(id, 'hex') AS remaining_event FROM events ORDER BY 1;
DELETE FROM relay_metadata WHERE relay_url = 'wss://b2' AND generated_at = 1000;
SELECT delete_orphan_nip11() AS orphan_nip11;
DELETE FROM relay_metadata WHERE relay_url = 'wss://b2';
SELECT delete_orphan_nip11() AS orphan_nip11, delete_orphan_nip66() AS orphan_nip66;
-- Deleting a relay through delete_relay removes its sightings and snapshots (the former cascade).
SELECT * FROM delete_relay('wss://b1');
SELECT count(*) AS b1_links FROM events_relays WHERE relay_url = 'wss://b1';
SELECT count(*) AS b1_snapshots FROM relay_metadata WHERE relay_url = 'wss://b1';
