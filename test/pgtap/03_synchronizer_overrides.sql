-- Synchronizer overrides and the one onion rule: an override's network comes from the nostr core's
-- strict v3 check (bigbrotr.relay_url_network), and only valid relay URLs are admitted (normalized
-- by a trigger; test/pgtap/04_relay_urls.sql covers that), so synchronizer_eligible can never fail
-- on a row.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(11);

DELETE FROM bigbrotr.synchronizer_relays;
INSERT INTO bigbrotr.synchronizer_relays (relay_url, enabled) VALUES
    ('ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', true),
    ('wss://2GZYXA5IHM7NSGGFXNU52RCK2VV4RVMDLKIU3ZZUI5DU4XYCLEN53WID.ONION:444/nostr', true),
    ('wss://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion?x=1', true),
    ('wss://relay.example.com', true),
    ('wss://onion.example.com/x.onion', true),
    ('wss://known.example', true),
    ('wss://off.example', false);
INSERT INTO bigbrotr.relays VALUES ('wss://known.example', 'clearnet', 1);

CREATE TEMP TABLE eligible AS SELECT * FROM bigbrotr.synchronizer_eligible(true, 3600, 10000);
SELECT is((SELECT network FROM eligible WHERE relay_url = 'ws://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion'),
          'tor', 'a v3 .onion override is tor');
SELECT is((SELECT network FROM eligible WHERE relay_url = 'wss://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion:444/nostr'),
          'tor', 'upper case, a port and a path: tor');
SELECT is((SELECT network FROM eligible WHERE relay_url = 'wss://2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion?x=1'),
          'tor', 'a query right after the host: tor (the former regex said clearnet)');
SELECT is((SELECT network FROM eligible WHERE relay_url = 'wss://relay.example.com'), 'clearnet', 'a DNS host is clearnet');
SELECT is((SELECT network FROM eligible WHERE relay_url = 'wss://onion.example.com/x.onion'), 'clearnet',
          '.onion in the path is not an onion host');
SELECT is((SELECT network FROM eligible WHERE relay_url = 'wss://known.example'), 'clearnet',
          'a relay already known has the network stored for it');
SELECT is((SELECT count(*)::int FROM eligible), 6, 'every enabled override, and no disabled one');

SELECT throws_ok($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('ws://expyuzz4wqqyqhjn76cz3bgc7ap4gcgq2w3tbhsr3pd4omj5l2aqnhqd.onion')$$,
                 '22023', NULL, 'an .onion host that is no valid v3 address is refused');
SELECT throws_ok($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('ws://relay.two.onion')$$,
                 '22023', NULL, 'a short .onion host is refused');
SELECT throws_ok($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('wss://user@relay.example.com')$$,
                 '22023', NULL, 'a URL the nostr core refuses is refused');
SELECT throws_ok($$INSERT INTO bigbrotr.synchronizer_relays (relay_url) VALUES ('https://relay.example.com')$$,
                 '22023', NULL, 'a URL that is not ws or wss is refused');

SELECT * FROM finish();
ROLLBACK;
