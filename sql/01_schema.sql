-- Schema contract: tables, generated tagvalues, constraints and the view.
CREATE EXTENSION bigbrotr;
SET search_path = bigbrotr, public;

SELECT table_name, string_agg(column_name || ':' || data_type || ':' || is_nullable, ', ' ORDER BY ordinal_position)
FROM information_schema.columns WHERE table_schema = 'bigbrotr'
  AND table_name IN ('relays', 'events', 'events_relays', 'nip11', 'nip66', 'relay_metadata', 'service_state')
GROUP BY table_name ORDER BY table_name;

SELECT indexname FROM pg_indexes WHERE schemaname = 'bigbrotr' ORDER BY indexname;

-- tagvalues holds the values of single-letter tags only.
SELECT tags_to_tagvalues('[["e","abc"],["p","def","wss://r"],["t","nostr"],["expiration","1"],["e"],[],["r","wss://x.com"]]');
SELECT tags_to_tagvalues('[]'), tags_to_tagvalues('{}'), tags_to_tagvalues('[1, "x", ["a", "ok"]]');

-- Constraints: network is clearnet or tor; hex fields have their lengths; kind is 0..65535.
INSERT INTO relays VALUES ('wss://a.example', 'i2p', 1);
INSERT INTO events VALUES (decode(repeat('00', 31), 'hex'), decode(repeat('11', 32), 'hex'), 1, 1, '[]', DEFAULT, '', decode(repeat('22', 64), 'hex'));
INSERT INTO events VALUES (decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex'), 1, 70000, '[]', DEFAULT, '', decode(repeat('22', 64), 'hex'));
INSERT INTO events (id, pubkey, created_at, kind, tags, tagvalues, content, sig)
VALUES (decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex'), 1, 1, '[]', '{x}', '', decode(repeat('22', 64), 'hex'));
