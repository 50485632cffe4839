-- events_relays.event_created_at (0.3.0) and bigbrotr.relay_items: every writer of events_relays
-- (insert_event, insert_events, insert_sightings) stores the event's created_at in its sightings, and a
-- relay's (created_at, id) items of a window come back sorted, bounded and limited, from a plan that is
-- an index-only scan of events_relays_relay_url_event_created_at_idx with no Sort (the plan's shape is
-- the test, not its costs).
SET search_path = bigbrotr, public;
SET client_min_messages = warning;

-- 20,000 events on wss://items.one, 1..8 per second, through insert_events in batches of 500.
SELECT sum(insert_events(ids, array_fill(decode(repeat('a2', 32), 'hex'), ARRAY[n]), cs, array_fill(1, ARRAY[n]),
                         array_fill('[]'::jsonb, ARRAY[n]), array_fill('x'::text, ARRAY[n]),
                         array_fill(decode(repeat('b2', 64), 'hex'), ARRAY[n]), array_fill('wss://items.one'::text, ARRAY[n]),
                         array_fill('clearnet'::text, ARRAY[n]), array_fill(1::bigint, ARRAY[n]), array_fill(5::bigint, ARRAY[n])))
       AS new_events
FROM (SELECT i / 500 AS b, array_agg(sha256(int8send(i)) ORDER BY i) AS ids,
             array_agg(1800000000 + i / (1 + i % 8) ORDER BY i) AS cs, count(*)::int AS n
      FROM generate_series(0, 19999) i GROUP BY 1) batches;
-- A second relay sees every third of them through insert_sightings (the known-event path), a third
-- relay one event through insert_event; 30 more relays share the table.
SELECT cardinality(insert_sightings(array_agg(sha256(int8send(i))), 'WSS://Items.Two:443/', NULL, 1, 6)) AS missing
FROM generate_series(0, 19999, 3) i;
SELECT insert_event(sha256(int8send(7)), decode(repeat('a2', 32), 'hex'), 1800000000, 1, '[]', 'x',
                    decode(repeat('b2', 64), 'hex'), 'wss://items.three', NULL, 1, 7);
SELECT sum(insert_events(ids, array_fill(decode(repeat('a3', 32), 'hex'), ARRAY[n]), cs, array_fill(1, ARRAY[n]),
                         array_fill('[]'::jsonb, ARRAY[n]), array_fill('y'::text, ARRAY[n]),
                         array_fill(decode(repeat('b3', 64), 'hex'), ARRAY[n]), urls,
                         array_fill('clearnet'::text, ARRAY[n]), array_fill(1::bigint, ARRAY[n]), array_fill(5::bigint, ARRAY[n])))
       AS other_relays_events
FROM (SELECT i / 500 AS b, array_agg(sha256(int8send(-i)) ORDER BY i) AS ids, array_agg(1700000000 + i ORDER BY i) AS cs,
             array_agg('wss://other' || (i % 30) || '.items' ORDER BY i) AS urls, count(*)::int AS n
      FROM generate_series(1, 20000) i GROUP BY 1) batches;

-- Every sighting carries its event's created_at, whichever writer stored it.
SELECT er.relay_url LIKE 'wss://other%' AS other, count(*) AS sightings,
       count(*) FILTER (WHERE er.event_created_at IS DISTINCT FROM e.created_at) AS differ
FROM events_relays er LEFT JOIN events e ON e.id = er.event_id
WHERE er.relay_url LIKE '%items%' GROUP BY 1 ORDER BY 1;
SELECT relay_url, count(*) AS sightings FROM events_relays
WHERE relay_url IN ('wss://items.one', 'wss://items.two', 'wss://items.three') GROUP BY 1 ORDER BY 1;

-- The items of a window: exactly the relay's events in [since, until], in (created_at, id) order.
SELECT count(*) AS items,
       bool_and(created_at BETWEEN 1800000100 AND 1800000900) AS in_window,
       (SELECT count(*) FROM events_relays er WHERE er.relay_url = 'wss://items.one'
          AND er.event_created_at BETWEEN 1800000100 AND 1800000900) AS expected
FROM relay_items('wss://items.one', 1800000100, 1800000900, NULL);
SELECT count(*) AS out_of_order FROM (
    SELECT created_at, id, lag(created_at) OVER w AS pc, lag(id) OVER w AS pi
    FROM (SELECT row_number() OVER () AS n, * FROM relay_items('wss://items.one', NULL, NULL, NULL)) t
    WINDOW w AS (ORDER BY n)) s
WHERE (pc, pi) >= (created_at, id);
-- Both bounds are inclusive; the limit keeps the first rows of that order; NULL bounds are open.
SELECT created_at, encode(id, 'hex') = encode(sha256(int8send(7)), 'hex') AS is_event_7
FROM relay_items('wss://items.three', 1800000000, 1800000000, 10);
SELECT count(*) AS limited, min(created_at) AS first, max(created_at) AS last
FROM relay_items('wss://items.one', 1800000100, 1800000900, 7);
SELECT (SELECT array_agg(id) FROM relay_items('wss://items.one', 1800000100, 1800000900, 7))
     = (SELECT array_agg(id) FROM (SELECT id FROM relay_items('wss://items.one', 1800000100, 1800000900, NULL) LIMIT 7) f)
       AS limit_is_a_prefix;
SELECT count(*) AS all_of_relay_two FROM relay_items('WSS://items.TWO', NULL, NULL, NULL);
SELECT count(*) AS empty_window FROM relay_items('wss://items.one', 1800000900, 1800000100, NULL);
SELECT count(*) AS unknown_relay FROM relay_items('wss://nobody.items', NULL, NULL, NULL);
SELECT count(*) FROM relay_items('wss://bad host', NULL, NULL, NULL);
SELECT count(*) FROM relay_items(NULL, NULL, NULL, NULL);

-- The plan, after VACUUM (index-only scans need the visibility map): the literal call and the
-- generic plan a prepared statement with parameters gets (what the synchronizer runs through SPI).
VACUUM ANALYZE events_relays;
EXPLAIN (COSTS OFF) SELECT * FROM relay_items('wss://items.one', 1800000100, 1800000900, 5000);
PREPARE items(text, bigint, bigint, integer) AS SELECT * FROM relay_items($1, $2, $3, $4);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE items('wss://items.one', 1800000100, 1800000900, 5000);
EXPLAIN (COSTS OFF) EXECUTE items('wss://items.one', NULL, NULL, NULL);
-- And it runs as planned: the index-only scan returns the relay's items (its heap fetches depend on
-- what a concurrent autovacuum holds back, so they are not shown).
CREATE TEMP TABLE plan_json (j json);
DO $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE items(''wss://items.one'', NULL, NULL, NULL)' INTO p;
    INSERT INTO plan_json VALUES (p);
END
$$;
SELECT j->0->'Plan'->'Plans'->0->>'Node Type' AS node, j->0->'Plan'->'Plans'->0->>'Index Name' AS index,
       j->0->'Plan'->'Plans'->0->>'Actual Rows' AS rows
FROM plan_json;
RESET plan_cache_mode;
DEALLOCATE items;
