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

-- tags_to_tagvalues and tagvalue_entry are C since 0.2.0. They must give exactly what the 0.1.0 SQL
-- functions gave, for every input: both are rebuilt here, verbatim, and compared over hostile tag sets.
CREATE FUNCTION pg_temp.sql_tagvalue_entry(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT CASE WHEN pg_catalog.octet_length(value) <= 512 THEN value
                ELSE 'sha256:' || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(value, 'UTF8')), 'hex')
           END
$$;
CREATE FUNCTION pg_temp.sql_tags_to_tagvalues(tags jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT coalesce(array_agg(pg_temp.sql_tagvalue_entry(t->>1)), '{}'::text[])
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]'::jsonb END) AS t
    WHERE jsonb_typeof(t) = 'array' AND length(t->>0) = 1 AND t->>1 IS NOT NULL
$$;
SELECT l.lanname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.oid = 'bigbrotr.tags_to_tagvalues(jsonb)'::regprocedure;

CREATE TEMP TABLE cases (label text, tags jsonb);
INSERT INTO cases VALUES
    ('empty array', '[]'), ('object', '{}'), ('object with tag', '{"e": "x"}'), ('string', '"e"'),
    ('number', '1'), ('null', 'null'), ('boolean', 'true'),
    ('empty tag', '[[]]'), ('name only', '[["e"]]'), ('null value', '[["e", null]]'),
    ('null name', '[[null, "x"]]'), ('number value', '[["e", 1]]'), ('decimal value', '[["e", 1.50]]'),
    ('big number value', '[["e", 1e30]]'), ('negative zero', '[["e", -0]]'), ('object value', '[["e", {"b": 1, "a": [1, 2]}]]'),
    ('array value', '[["e", ["n", "m"]]]'), ('boolean value', '[["e", true]]'), ('false value', '[["e", false]]'),
    ('digit name', '[[1, "x"]]'), ('two-digit name', '[[12, "x"]]'), ('negative name', '[[-1, "x"]]'),
    ('decimal name', '[[1.0, "x"]]'), ('boolean name', '[[true, "x"]]'), ('object name', '[[{}, "x"]]'),
    ('array name', '[[[], "x"]]'), ('two-byte name', '[["é", "x"]]'), ('four-byte name', '[["😀", "x"]]'),
    ('combining name', jsonb_build_array(jsonb_build_array('e' || chr(769), 'x'))), ('long name', '[["ab", "x"]]'), ('empty name', '[["", "x"]]'),
    ('extra elements', '[["e", "a", "b", "c"]]'), ('nested tags', '[[["e", "x"]], [[["p", "y"]]]]'),
    ('mixed elements', '[1, "x", {"e": "x"}, null, true, ["e", "ok"], [], ["p", "ok2"]]'),
    ('empty value', '[["e", ""]]'), ('escapes', '[["e", "a\"b\\c\n\t\u0001"], ["p", "\u00e9\ud83d\ude00"]]'),
    ('order kept', '[["z", "3"], ["a", "1"], ["m", "2"], ["a", "1"]]'),
    ('many', (SELECT jsonb_agg(jsonb_build_array(chr(97 + i % 26), i::text)) FROM generate_series(1, 3000) i)),
    ('512 bytes', jsonb_build_array(jsonb_build_array('x', repeat('a', 512)))),
    ('513 bytes', jsonb_build_array(jsonb_build_array('x', repeat('a', 513)))),
    ('2-byte 512', jsonb_build_array(jsonb_build_array('x', repeat('é', 256)))),
    ('2-byte 513', jsonb_build_array(jsonb_build_array('x', repeat('é', 256) || 'a'))),
    ('2-byte 511+2', jsonb_build_array(jsonb_build_array('x', repeat('a', 511) || 'é'))),
    ('3-byte 510+2', jsonb_build_array(jsonb_build_array('x', repeat('€', 170) || 'ab'))),
    ('3-byte 510+3', jsonb_build_array(jsonb_build_array('x', repeat('€', 171)))),
    ('4-byte 512', jsonb_build_array(jsonb_build_array('x', repeat('😀', 128)))),
    ('4-byte 508+4+1', jsonb_build_array(jsonb_build_array('x', repeat('😀', 128) || 'a'))),
    ('long number', jsonb_build_array(jsonb_build_array('x', ('1' || repeat('0', 600))::numeric))),
    ('long object', jsonb_build_array(jsonb_build_array('x', jsonb_build_object('k', repeat('v', 600))))),
    ('long name long value', jsonb_build_array(jsonb_build_array(repeat('n', 600), repeat('v', 600)))),
    ('huge', jsonb_build_array(jsonb_build_array('x', repeat('q', 100000)), jsonb_build_array('y', 'short')));
-- Random tag sets: names and values of every JSON type, lengths around the threshold.
SELECT setseed(0.11);
INSERT INTO cases
SELECT 'random ' || n, (SELECT coalesce(jsonb_agg(tag), '[]') FROM (
    SELECT CASE (random() * 9)::int
               WHEN 0 THEN to_jsonb(k)
               WHEN 1 THEN jsonb_build_array()
               ELSE (SELECT jsonb_agg(x) FROM (
                   SELECT CASE (random() * 12)::int
                              WHEN 0 THEN 'null'::jsonb
                              WHEN 1 THEN to_jsonb((random() * 20)::int - 5)
                              WHEN 2 THEN to_jsonb(random() > 0.5)
                              WHEN 3 THEN jsonb_build_object('k', k)
                              WHEN 4 THEN jsonb_build_array(k, 'v')
                              WHEN 5 THEN to_jsonb(repeat(chr(233 + (random() * 2)::int * 127000), (random() * 300)::int))
                              WHEN 6 THEN to_jsonb(repeat(md5(k::text), 14 + (random() * 5)::int))
                              WHEN 7 THEN to_jsonb(chr(97 + (random() * 25)::int))
                              WHEN 8 THEN to_jsonb(chr(19968 + (random() * 100)::int))
                              ELSE to_jsonb(md5(random()::text))
                          END AS x
                   FROM generate_series(0, (random() * 4)::int) j) s)
           END AS tag
    FROM generate_series(0, (random() * 8)::int + n * 0) k) tg)
FROM generate_series(1, 3000) n;

SELECT count(*) AS cases,
       count(*) FILTER (WHERE bigbrotr.tags_to_tagvalues(tags) IS DISTINCT FROM pg_temp.sql_tags_to_tagvalues(tags)
                           OR bigbrotr.tags_to_tagvalues(tags)::text IS DISTINCT FROM pg_temp.sql_tags_to_tagvalues(tags)::text
                           OR array_dims(bigbrotr.tags_to_tagvalues(tags)) IS DISTINCT FROM array_dims(pg_temp.sql_tags_to_tagvalues(tags))) AS differ,
       count(*) FILTER (WHERE cardinality(bigbrotr.tags_to_tagvalues(tags)) > 0) AS with_entries,
       count(*) FILTER (WHERE EXISTS (SELECT FROM unnest(bigbrotr.tags_to_tagvalues(tags)) x WHERE x LIKE 'sha256:%')) AS with_hashed
FROM cases;
SELECT label, bigbrotr.tags_to_tagvalues(tags) AS c_result
FROM cases WHERE label NOT LIKE 'random %' AND label NOT IN ('many', 'huge') AND octet_length(tags::text) < 200
ORDER BY label;
-- tagvalue_entry, the form queries use, agrees with the column's entry and with the 0.1.0 SQL rule
-- for every value.
SELECT count(*) AS values_checked,
       count(*) FILTER (WHERE bigbrotr.tagvalue_entry(t->>1) IS DISTINCT FROM
                              (bigbrotr.tags_to_tagvalues(jsonb_build_array(jsonb_build_array('x', t->1))))[1]) AS differ,
       count(*) FILTER (WHERE bigbrotr.tagvalue_entry(t->>1) IS DISTINCT FROM pg_temp.sql_tagvalue_entry(t->>1)) AS differ_from_sql
FROM cases, jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]' END) t
WHERE jsonb_typeof(t) = 'array' AND t->>1 IS NOT NULL;

-- No per-row SQL in the insert path: every function an insert into events, events_relays or relays
-- runs (generated columns, CHECK constraints, triggers) is C, but the finder's queue trigger, which
-- fires only for kinds 3 and 10002, and the stats triggers of 0.4.0, which fire once per statement.
SELECT c.relname AS "table", d.classid::regclass AS via, p.oid::regprocedure AS function, l.lanname,
       (SELECT CASE WHEN t.tgtype & 1 = 1 THEN 'row' ELSE 'statement' END FROM pg_trigger t
        WHERE t.oid = d.objid AND d.classid = 'pg_trigger'::regclass) AS fires_per
FROM pg_depend d
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
JOIN pg_language l ON l.oid = p.prolang
JOIN pg_class c ON c.oid = coalesce((SELECT adrelid FROM pg_attrdef WHERE oid = d.objid AND d.classid = 'pg_attrdef'::regclass),
                                    (SELECT conrelid FROM pg_constraint WHERE oid = d.objid AND d.classid = 'pg_constraint'::regclass),
                                    (SELECT tgrelid FROM pg_trigger WHERE oid = d.objid AND d.classid = 'pg_trigger'::regclass))
WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relname IN ('events', 'events_relays', 'relays')
ORDER BY 1, 2, 3;
