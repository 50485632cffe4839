-- Any valid event is storable, whatever its tags: values of single-letter tags longer than the
-- threshold of bigbrotr.tagvalue_entry (512 bytes of UTF-8) enter tagvalues as 'sha256:' and the hex
-- SHA-256 of the value, so the GIN index never meets an item over its 2712-byte limit, and an exact
-- match on a long value still goes through the index in its documented form.
SET search_path = bigbrotr, public;
SET client_min_messages = warning;

-- Incompressible text (PostgreSQL compresses index items first, so repeated text would hide the limit).
SELECT setseed(0.42);
CREATE TEMP TABLE v AS SELECT
    (SELECT string_agg(chr(33 + (random() * 93)::int), '') FROM generate_series(1, 2800)) AS long_ascii,
    (SELECT string_agg(chr(33 + (random() * 93)::int), '') FROM generate_series(1, 100000)) AS huge_ascii,
    (SELECT string_agg(chr(19968 + (random() * 20000)::int), '') FROM generate_series(1, 1000)) AS cjk,
    (SELECT string_agg(chr(128512 + (random() * 79)::int), '') FROM generate_series(1, 700)) AS emoji;
SELECT octet_length(long_ascii) AS long_bytes, octet_length(huge_ascii) AS huge_bytes,
       length(cjk) AS cjk_chars, octet_length(cjk) AS cjk_bytes,
       length(emoji) AS emoji_chars, octet_length(emoji) AS emoji_bytes FROM v;

-- The rule, at its boundary: up to 512 bytes the value itself, above it the hash (bytes, not characters).
SELECT tagvalue_entry(repeat('a', 512)) = repeat('a', 512) AS at_threshold_verbatim,
       tagvalue_entry(repeat('a', 513)) = 'sha256:' || encode(sha256(convert_to(repeat('a', 513), 'UTF8')), 'hex') AS above_hashed,
       tagvalue_entry(repeat('é', 256)) = repeat('é', 256) AS two_byte_512_verbatim,
       tagvalue_entry(repeat('é', 257)) LIKE 'sha256:%' AS two_byte_514_hashed,
       length(tagvalue_entry(repeat('x', 100000))) AS hashed_length;
SELECT tags_to_tagvalues(jsonb_build_array(jsonb_build_array('e', 'short'), jsonb_build_array('x', repeat('b', 600)),
                                           jsonb_build_array('long', repeat('c', 600))));

-- Each event goes through insert_events, the workers' path, in one batch with honest neighbours.
SELECT insert_events(
    ARRAY[decode(repeat('61', 32), 'hex'), decode(repeat('62', 32), 'hex'), decode(repeat('63', 32), 'hex'),
          decode(repeat('64', 32), 'hex'), decode(repeat('65', 32), 'hex'), decode(repeat('66', 32), 'hex')],
    array_fill(decode(repeat('a6', 32), 'hex'), ARRAY[6]), ARRAY[1, 2, 3, 4, 5, 6]::bigint[], ARRAY[1, 1, 1, 1, 1, 1],
    ARRAY[jsonb_build_array(jsonb_build_array('t', 'neighbour')),
          jsonb_build_array(jsonb_build_array('x', v.long_ascii), jsonb_build_array('e', repeat('ab', 32))),
          jsonb_build_array(jsonb_build_array('x', v.huge_ascii)),
          jsonb_build_array(jsonb_build_array('t', v.cjk), jsonb_build_array('t', v.emoji), jsonb_build_array('t', 'ümlaut')),
          (SELECT jsonb_agg(jsonb_build_array(chr(97 + i % 26), 'value ' || i || ' ' || md5(i::text))) FROM generate_series(1, 5000) i),
          (SELECT jsonb_agg(jsonb_build_array('z', left(v.huge_ascii, 600 + i))) FROM generate_series(1, 200) i)],
    ARRAY['neighbour', 'long', 'huge', 'multibyte', 'many tags', 'many long tags'],
    array_fill(decode(repeat('b6', 64), 'hex'), ARRAY[6]),
    array_fill('wss://tags.example'::text, ARRAY[6]), array_fill('clearnet'::text, ARRAY[6]),
    array_fill(1::bigint, ARRAY[6]), array_fill(2::bigint, ARRAY[6])) AS new_events
FROM v;

-- The full event is kept: tags as given, tagvalues as the rule says.
SELECT content, jsonb_array_length(tags) AS tags, cardinality(tagvalues) AS entries,
       (SELECT max(octet_length(x)) FROM unnest(tagvalues) x) AS longest_entry_bytes,
       octet_length(tags::text) AS tags_bytes
FROM events WHERE content IN ('neighbour', 'long', 'huge', 'multibyte', 'many tags', 'many long tags')
ORDER BY created_at;
SELECT (SELECT tags->0->>1 FROM events WHERE content = 'long') = long_ascii AS long_kept,
       (SELECT tags->0->>1 FROM events WHERE content = 'huge') = huge_ascii AS huge_kept,
       (SELECT tags->0->>1 FROM events WHERE content = 'multibyte') = cjk AS cjk_kept
FROM v;

-- An exact match, in the documented form, finds the event through the index; short values as before.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT content FROM events WHERE tagvalues @> ARRAY[tagvalue_entry('anything')];
EXPLAIN (COSTS OFF) SELECT content FROM events WHERE tagvalues @> ARRAY[tagvalue_entry(repeat('y', 3000))];
SELECT content FROM events, v WHERE tagvalues @> ARRAY[tagvalue_entry(v.long_ascii)];
SELECT content FROM events, v WHERE tagvalues @> ARRAY[tagvalue_entry(v.huge_ascii)];
SELECT content FROM events, v WHERE tagvalues @> ARRAY[tagvalue_entry(v.emoji)];
SELECT content FROM events WHERE tagvalues @> ARRAY[tagvalue_entry('ümlaut')];
SELECT content FROM events WHERE tagvalues @> ARRAY['neighbour'];
SELECT content FROM events WHERE tagvalues @> ARRAY[tagvalue_entry('value 4321 ' || md5('4321'))];
-- With the tag name, exactly (tags @> is the recheck a hashed entry needs against a lookalike value).
SELECT content FROM events, v
WHERE tagvalues @> ARRAY[tagvalue_entry(v.long_ascii)] AND tags @> jsonb_build_array(jsonb_build_array('x', v.long_ascii));
RESET enable_seqscan;

DELETE FROM relays WHERE url = 'wss://tags.example';
DELETE FROM events WHERE content IN ('neighbour', 'long', 'huge', 'multibyte', 'many tags', 'many long tags');
