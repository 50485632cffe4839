-- The nostr core from SQL: event_verify and event_id against events signed by nostr-tools (the
-- reference client library) and a corpus of malformed events, each with its expected reason; relay
-- URL rules against the URL corpus. Fixtures: test/fixtures/nostr (made by test/js/gen_event_fixtures.mjs).
SET search_path = bigbrotr, public;
-- The files are read whole by psql (their lines hold raw CRs and control characters COPY would mangle).
\set valid_file `cat test/fixtures/nostr/events_valid.jsonl`
\set invalid_file `cat test/fixtures/nostr/events_invalid.jsonl`
\set url_file `cat test/fixtures/nostr/relay_urls.tsv`
-- Each line is {"note":..,"serialized":..,"event":<the event exactly as on the wire>}; the event is cut
-- out as text, since SQL's JSON functions refuse the U+0000 one of them holds.
CREATE TEMP TABLE valid_lines AS
    SELECT substring(line from '^\{"note":"([^"]*)"') AS note,
           left(substr(line, strpos(line, ',"event":') + 9), -1) AS event
    FROM regexp_split_to_table(:'valid_file', E'\n') line WHERE line <> '';
CREATE TEMP TABLE invalid_lines AS SELECT line FROM regexp_split_to_table(:'invalid_file', E'\n') line WHERE line <> '';
CREATE TEMP TABLE url_lines AS SELECT line FROM regexp_split_to_table(:'url_file', E'\n') line;

-- Every nostr-tools event verifies.
SELECT count(*) AS valid_events, count(*) FILTER (WHERE (event_verify(event)).valid) AS verified
FROM valid_lines;
SELECT note AS failed, event_verify(event) FROM valid_lines WHERE NOT (event_verify(event)).valid;

-- Our id equals nostr-tools' id, computed from the fields (jsonb form, where jsonb can hold them).
SELECT count(*) AS comparable, count(*) FILTER (WHERE event_id(event::jsonb) = event::jsonb->>'id') AS same_id
FROM valid_lines WHERE event NOT LIKE '%\\u0000%';
SELECT event_verify('{"kind":1,"created_at":1700000000,"tags":[],"content":"","pubkey":"f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719","id":"4056e1dd9dfd4566aa353141822ea6d87d33086ab9eb262a4ae706dd76eb8a2f","sig":"3eac643618b52fa8cb377b5cf82aa34daa055c868f3e721613869892228f7950b08883b0a5caf3b2c3ba5204a196072bd7a58205ebbb072ac20c3b83885e61a8"}'::jsonb);

-- Each malformed event is rejected for the reason the corpus gives.
SELECT split_part(line, E'\t', 1) AS expected_reason, count(*) AS events,
       count(*) FILTER (WHERE (event_verify(substr(line, strpos(line, E'\t') + 1))).reason = split_part(line, E'\t', 1)) AS matched
FROM invalid_lines GROUP BY 1 ORDER BY 1;
SELECT split_part(line, E'\t', 1) AS expected, (event_verify(substr(line, strpos(line, E'\t') + 1))).*
FROM invalid_lines
WHERE (event_verify(substr(line, strpos(line, E'\t') + 1))).reason <> split_part(line, E'\t', 1);
SELECT * FROM event_verify('not json');
SELECT * FROM event_verify('{"id": 1}');

-- event_id: the NIP-01 form, and clear errors for unusable arguments.
SELECT event_id('f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719', 1700000000, 1, '[]', '');
SELECT event_id('F2C36392FD995783741E5EBB100BE466971696A258AE323BAB17A932359F4719', 1700000000, 1, '[]', '');
SELECT event_id('f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719', -1, 1, '[]', '');
SELECT event_id('f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719', 1, 70000, '[]', '');
SELECT event_id('f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719', 1, 1, '[["e", 1]]', '');
SELECT event_id('f2c36392fd995783741e5ebb100be466971696a258ae323bab17a932359f4719', 1, 1, '{"e": 1}', '');
SELECT event_id('[1, 2]'::jsonb);
SELECT event_id('{"pubkey": "x"}'::jsonb);

-- Relay URLs: every valid case normalizes as the corpus says, every invalid one for its reason.
WITH cases AS (
    SELECT split_part(line, E'\t', 1) AS input, split_part(line, E'\t', 2) AS expected,
           split_part(line, E'\t', 3) AS network, split_part(line, E'\t', 4) AS class
    FROM url_lines WHERE line NOT LIKE '#%' AND line <> ''
)
SELECT expected LIKE '!%' AS rejected, count(*) AS cases,
       count(*) FILTER (WHERE CASE WHEN expected LIKE '!%' THEN NOT c.valid AND c.reason = substr(expected, 2)
                                   ELSE c.valid AND c.normalized = expected AND c.network = cases.network
                                        AND c.address_class = cases.class END) AS matched
FROM cases, relay_url_check(input) c GROUP BY 1 ORDER BY 1;
SELECT * FROM relay_url_check('WSS://Relay.Example.COM:443/');
SELECT * FROM relay_url_check('https://relay.example.com');
SELECT relay_url_normalize('wss://Relay.Example.COM:443/'), relay_url_normalize('ws://relay.example.com:80/nostr?x=1');
SELECT relay_url_network('wss://relay.example.com'),
       relay_url_network('wss://2GZYXA5IHM7NSGGFXNU52RCK2VV4RVMDLKIU3ZZUI5DU4XYCLEN53WID.onion/nostr/');
SELECT relay_url_normalize('wss://2GZYXA5IHM7NSGGFXNU52RCK2VV4RVMDLKIU3ZZUI5DU4XYCLEN53WID.onion/nostr/');
SELECT relay_url_network('ws://expyuzz4wqqyqhjn76cz3bgc7ap4gcgq2w3tbhsr3pd4omj5l2aqnhqd.onion');
SELECT relay_url_normalize('wss://user@relay.example.com');
SELECT relay_url_network('ftp://relay.example.com');
SELECT relay_url_normalize(NULL) IS NULL AS strict;
