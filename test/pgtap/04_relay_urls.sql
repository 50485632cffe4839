-- Relay URLs at the SQL boundary: every column that holds a relay URL holds it in the nostr core's
-- normal form (relay_url_normalize) with the network its rules give (relay_url_network). The insert
-- procedures and synchronizer_relays normalize what they are given; an invalid URL, or a network that
-- contradicts the URL, is an ERROR with SQLSTATE 22023 and the reason; a direct INSERT of an
-- unnormalized URL into relays is refused (relays.url is what relay_metadata references, so it can
-- hold nothing else; events_relays, without foreign keys since 0.2.0, is written by the procedures).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(31);

-- insert_relay / insert_relays
SELECT lives_ok($$SELECT bigbrotr.insert_relay('WSS://Relay.Example.COM:443/', 'clearnet', 1)$$, 'insert_relay takes an unnormalized URL');
SELECT is((SELECT array_agg(url || ' ' || network) FROM bigbrotr.relays WHERE url ILIKE '%relay.example.com%'),
          ARRAY['wss://relay.example.com clearnet'], 'insert_relay stores the normal form');
SELECT is(bigbrotr.insert_relays(ARRAY['ws://Two.Example:80', 'ws://two.example/', 'WSS://relay.example.com'],
                                 ARRAY['clearnet', 'clearnet', 'clearnet'], ARRAY[1, 2, 3]::bigint[]),
          1, 'insert_relays: spellings of one relay are one new relay');
SELECT ok(EXISTS (SELECT FROM bigbrotr.relays WHERE url = 'ws://two.example') AND
          NOT EXISTS (SELECT FROM bigbrotr.relays WHERE url IN ('ws://Two.Example:80', 'ws://two.example/')),
          'insert_relays stores the normal form only');
SELECT lives_ok($$SELECT bigbrotr.insert_relay('ws://2GZYXA5IHM7NSGGFXNU52RCK2VV4RVMDLKIU3ZZUI5DU4XYCLEN53WID.onion', NULL, 1)$$,
                'insert_relay with no network');
SELECT is((SELECT network FROM bigbrotr.relays WHERE url = 'ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion'),
          'tor', 'the network comes from the C rules when not given');
SELECT throws_ok($$SELECT bigbrotr.insert_relay('https://relay.example.org', 'clearnet', 1)$$, '22023',
                 NULL, 'insert_relay refuses a URL that is not ws or wss');
SELECT throws_like($$SELECT bigbrotr.insert_relay('wss://user@relay.example.org', 'clearnet', 1)$$,
                   'invalid relay URL "wss://user@relay.example.org": %', 'the error names the URL and the reason');
SELECT throws_ok($$SELECT bigbrotr.insert_relay('ws://relay.two.onion', 'tor', 1)$$, '22023', NULL,
                 'a short .onion host is no relay URL');
SELECT throws_like($$SELECT bigbrotr.insert_relay('ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', 'clearnet', 1)$$,
                   '%network%clearnet%tor%', 'a network that contradicts the URL is refused');
SELECT throws_ok($$SELECT bigbrotr.insert_relays(ARRAY['wss://ok.example', 'wss://'], ARRAY['clearnet', 'clearnet'], ARRAY[1, 1]::bigint[])$$,
                 '22023', NULL, 'insert_relays refuses a batch with an invalid URL');

-- insert_event / insert_events
SELECT lives_ok($$SELECT bigbrotr.insert_event(decode(repeat('71', 32), 'hex'), decode(repeat('a7', 32), 'hex'), 1, 1, '[]', 'x',
                 decode(repeat('b7', 64), 'hex'), 'WSS://Ev.Example:443/', 'clearnet', 1, 2)$$, 'insert_event takes an unnormalized URL');
SELECT is((SELECT array_agg(relay_url) FROM bigbrotr.events_relays WHERE event_id = decode(repeat('71', 32), 'hex')),
          ARRAY['wss://ev.example'], 'insert_event links the normal form');
SELECT is(bigbrotr.insert_events(
    ARRAY[decode(repeat('72', 32), 'hex'), decode(repeat('73', 32), 'hex'), decode(repeat('72', 32), 'hex')],
    array_fill(decode(repeat('a7', 32), 'hex'), ARRAY[3]), ARRAY[1, 2, 1]::bigint[], ARRAY[1, 1, 1],
    array_fill('[]'::jsonb, ARRAY[3]), ARRAY['a', 'b', 'a'], array_fill(decode(repeat('b7', 64), 'hex'), ARRAY[3]),
    ARRAY['WSS://Batch.Example:443/', 'WSS://Batch.Example:443/', 'wss://batch.example'],
    ARRAY['clearnet', 'clearnet', NULL], ARRAY[5, 5, 6]::bigint[], ARRAY[7, 8, 9]::bigint[]), 2, 'insert_events takes unnormalized URLs');
SELECT is((SELECT array_agg(encode(event_id, 'hex') || ' ' || relay_url || ' ' || seen_at ORDER BY event_id)
           FROM bigbrotr.events_relays WHERE relay_url ILIKE '%batch.example%'),
          ARRAY[repeat('72', 32) || ' wss://batch.example 7', repeat('73', 32) || ' wss://batch.example 8'],
          'insert_events: one link per event and normalized relay, the first sighting kept');
SELECT is((SELECT array_agg(url || ' ' || inserted_at) FROM bigbrotr.relays WHERE url ILIKE '%batch.example%'),
          ARRAY['wss://batch.example 5'], 'insert_events: one relay row, in the normal form');
SELECT throws_ok($$SELECT bigbrotr.insert_events(ARRAY[decode(repeat('74', 32), 'hex')], ARRAY[decode(repeat('a7', 32), 'hex')],
    ARRAY[1]::bigint[], ARRAY[1], ARRAY['[]'::jsonb], ARRAY['c'], ARRAY[decode(repeat('b7', 64), 'hex')],
    ARRAY['wss://bad host'], ARRAY['clearnet'], ARRAY[1]::bigint[], ARRAY[1]::bigint[])$$, '22023', NULL,
    'insert_events refuses an invalid URL');

-- insert_relay_metadata / insert_relay_metadata_batch
SELECT lives_ok($$SELECT bigbrotr.insert_relay_metadata('WSS://Meta.Example:443/', 'clearnet', 1, 100, true, true, true, false,
    1, 2, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$, 'insert_relay_metadata takes an unnormalized URL');
SELECT is(bigbrotr.insert_relay_metadata_batch('[
    {"relay_url": "wss://META.example", "network": "clearnet", "inserted_at": 1, "generated_at": 100, "nip66": {"openable": false}},
    {"relay_url": "WSS://meta.example:443", "network": "clearnet", "inserted_at": 1, "generated_at": 200, "nip66": {"openable": false}},
    {"relay_url": "wss://meta.example", "network": "clearnet", "inserted_at": 1, "generated_at": 200, "nip66": {"openable": false}}]'),
    1, 'insert_relay_metadata_batch: spellings of one snapshot count once');
SELECT is((SELECT array_agg(relay_url || ' ' || generated_at ORDER BY generated_at) FROM bigbrotr.relay_metadata WHERE relay_url ILIKE '%meta.example%'),
          ARRAY['wss://meta.example 100', 'wss://meta.example 200'], 'snapshots are keyed by the normal form');
SELECT throws_ok($$SELECT bigbrotr.insert_relay_metadata_batch('[{"relay_url": "ftp://meta.example", "network": "clearnet", "inserted_at": 1, "generated_at": 1}]')$$,
                 '22023', NULL, 'insert_relay_metadata_batch refuses an invalid URL');

-- synchronizer_relays: normalized on insert and update, invalid URLs refused with the reason
INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('WSS://Sync.Example:443/');
SELECT is((SELECT array_agg(relay_url) FROM bigbrotr.synchronizer_relays WHERE relay_url ILIKE '%sync.example%'),
          ARRAY['wss://sync.example'], 'synchronizer_relays normalizes on insert');
UPDATE bigbrotr.synchronizer_relays SET relay_url = 'WS://Sync2.Example:80/' WHERE relay_url = 'wss://sync.example';
SELECT is((SELECT array_agg(relay_url) FROM bigbrotr.synchronizer_relays WHERE relay_url ILIKE '%sync%example%'),
          ARRAY['ws://sync2.example'], 'synchronizer_relays normalizes on update');
SELECT throws_ok($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('WS://sync2.EXAMPLE:80')$$, '23505', NULL,
                 'two spellings of one relay are one override');
SELECT throws_like($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('https://relay.example.com')$$,
                   'invalid relay URL "https://relay.example.com": %', 'an invalid override is refused with the reason');

-- direct writes to the tables
SELECT throws_ok($$INSERT INTO bigbrotr.relays VALUES ('WSS://Direct.Example', 'clearnet', 1)$$, '23514', NULL,
                 'relays refuses an unnormalized URL');
SELECT throws_ok($$INSERT INTO bigbrotr.relays VALUES ('wss://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', 'clearnet', 1)$$,
                 '22023', NULL, 'relays refuses a network the URL contradicts');
-- events_relays has no foreign key since 0.2.0: only the procedures write it, in the normal form;
-- a sighting written by hand under another spelling names no relay and is an orphan.
SELECT is(bigbrotr.insert_sightings(ARRAY[decode(repeat('71', 32), 'hex')], 'WSS://Ev2.Example:443/', NULL, 1, 2), '{}'::bytea[],
          'insert_sightings records a known event');
SELECT is((SELECT array_agg(relay_url ORDER BY relay_url) FROM bigbrotr.events_relays WHERE event_id = decode(repeat('71', 32), 'hex')),
          ARRAY['wss://ev.example', 'wss://ev2.example'], 'insert_sightings stores the relay URL in its normal form');
INSERT INTO bigbrotr.events_relays VALUES (decode(repeat('71', 32), 'hex'), 'WSS://Ev.Example', 1, 1);
SELECT is(bigbrotr.delete_orphan_sightings(), 1::bigint, 'a sighting under an unnormalized spelling is an orphan');
SELECT throws_ok($$INSERT INTO bigbrotr.relay_metadata (relay_url, generated_at) VALUES ('WSS://Meta.Example', 300)$$, '23503', NULL,
                 'relay_metadata can only name a relay in its normal form');

SELECT * FROM finish();
ROLLBACK;
