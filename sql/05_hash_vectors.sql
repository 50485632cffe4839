-- Content hashes: nip11 and nip66 rows are keyed by the SHA-256 of their fields, so the hash is part of
-- the stored data and must never change. The expected values were computed by the earlier
-- pgcrypto-based functions (public.digest(jsonb_build_array(...)::text, 'sha256')), before the switch
-- to the built-in sha256(bytea); the nip66 ones and the all-NULL nip11 one are also plain
-- `printf '%s' '[false, false, false, null, null, null]' | sha256sum` of the jsonb text.
-- Each is checked on the function and on the id a stored row gets.
SET search_path = bigbrotr, public;
CREATE TEMP TABLE hash_vectors (vector text PRIMARY KEY, computed bytea, expected text);
INSERT INTO hash_vectors VALUES
    ('nip11 all null',
     compute_nip11_hash(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
     'db623df486bd04fce8a33326bb6b92ac96c5cba3ff2254d3bd763ba6b882d145'),
    ('nip11 plain',
     compute_nip11_hash('Relay B1', 'desc', NULL, NULL, NULL, 'admin@b1', '[1, 11]', 'strfry', '1.0', NULL, NULL,
                        '{"max_limit": 500}', '{"x": 1}'),
     'fb7a7bfb126afa080141f6053fc623782527ffc98d32870fc44db76983e26189'),
    -- non-ASCII text, JSON escapes (newline, quote, backslash, tab), nested objects with unsorted keys
    ('nip11 unicode and escapes',
     compute_nip11_hash(E'Relé ⚡ 日本', E'line one\nline "two" \\ tab\there', 'https://r.example/banner.png',
                        'https://r.example/icon.png', repeat('ab', 32), 'mailto:op@r.example', '[1, 2, 9, 11, 40, 77]',
                        'git+https://github.com/hoytech/strfry', 'v1.0.4-😀', 'https://r.example/privacy', '',
                        '{"max_limit": 5000, "auth_required": false, "min_pow_difficulty": 0, "max_subscriptions": 20}',
                        '{"relay_countries": ["IT", "*"], "posting_policy": "https://r.example/policy", "nested": {"b": [1.5, null], "a": true}}'),
     '24ee279a46ef75cb00aa2960c5f04ca9d960e0ba808f587b6fd5d6b74ef9ea07'),
    ('nip66 down',
     compute_nip66_hash(false, false, false, NULL, NULL, NULL),
     '973146ec0aa29747a5a50dee84e45e8c79438d4015d47fcf0d7a1c3d2b390c25'),
    ('nip66 open and read',
     compute_nip66_hash(true, true, false, 12, 34, NULL),
     '440cf8505f7868e7a435176350c7f8eaae708aa1feed45be80cac5b78b0022b8'),
    ('nip66 all',
     compute_nip66_hash(true, true, true, 1, 2, 3),
     '7f3b818b992e3f1fe3d3f206ab15c4f5ae0b4e4154aca6e1ab216875641c72f9');
SELECT vector, encode(computed, 'hex') = expected AS same_hash FROM hash_vectors ORDER BY vector;
SELECT vector, encode(computed, 'hex') AS computed FROM hash_vectors WHERE encode(computed, 'hex') <> expected;

-- The ids stored rows get, through both insert paths the workers use.
SELECT insert_relay_metadata('wss://vectors.example', 'clearnet', 1, 1,
    true, true, true, false, 12, 34, NULL,
    true, E'Relé ⚡ 日本', E'line one\nline "two" \\ tab\there', 'https://r.example/banner.png',
    'https://r.example/icon.png', repeat('ab', 32), 'mailto:op@r.example', '[1, 2, 9, 11, 40, 77]',
    'git+https://github.com/hoytech/strfry', 'v1.0.4-😀', 'https://r.example/privacy', '',
    '{"max_limit": 5000, "auth_required": false, "min_pow_difficulty": 0, "max_subscriptions": 20}',
    '{"relay_countries": ["IT", "*"], "posting_policy": "https://r.example/policy", "nested": {"b": [1.5, null], "a": true}}');
SELECT insert_relay_metadata_batch('[
  {"relay_url": "wss://vectors.example", "network": "clearnet", "inserted_at": 1, "generated_at": 2,
   "nip66": {"openable": false}, "nip11": {}},
  {"relay_url": "wss://vectors.example", "network": "clearnet", "inserted_at": 1, "generated_at": 3,
   "nip66": {"openable": true, "readable": true, "writable": true, "rtt_open": 1, "rtt_read": 2, "rtt_write": 3},
   "nip11": {"name": "Relay B1", "description": "desc", "contact": "admin@b1", "supported_nips": [1, 11],
             "software": "strfry", "version": "1.0", "limitation": {"max_limit": 500}, "extra_fields": {"x": 1}}}
]') AS new_snapshots;
SELECT m.generated_at, v11.vector AS nip11_id_is, v66.vector AS nip66_id_is
FROM relay_metadata m
LEFT JOIN hash_vectors v11 ON v11.computed = m.nip11_id AND encode(m.nip11_id, 'hex') = v11.expected
LEFT JOIN hash_vectors v66 ON v66.computed = m.nip66_id AND encode(m.nip66_id, 'hex') = v66.expected
WHERE m.relay_url = 'wss://vectors.example' ORDER BY m.generated_at;

-- Clean up: the relay (its snapshots cascade) and the documents no other snapshot uses.
DELETE FROM relays WHERE url = 'wss://vectors.example';
DELETE FROM nip11 n WHERE n.id IN (SELECT computed FROM hash_vectors)
  AND NOT EXISTS (SELECT 1 FROM relay_metadata m WHERE m.nip11_id = n.id);
DELETE FROM nip66 n WHERE n.id IN (SELECT computed FROM hash_vectors)
  AND NOT EXISTS (SELECT 1 FROM relay_metadata m WHERE m.nip66_id = n.id);
DROP TABLE hash_vectors;
