-- The schema stays distributable by event id (docs/scale-out.md): in Citus, and in PostgreSQL's own
-- hash partitioning, every unique index and primary key of a distributed or partitioned table must
-- contain the distribution column, and a foreign key from a distributed table to another must
-- include it. So every unique index and primary key of events and events_relays includes the event
-- id, and events_relays has no foreign key at all. Any other answer here fails the test.
SET search_path = bigbrotr, public;

-- Unique indexes (primary keys are unique indexes too) and whether each includes the event id.
SELECT c.relname AS "table", i.relname AS index, x.indisprimary AS primary_key,
       (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns,
       (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid
          AND a.attname = CASE c.relname WHEN 'events' THEN 'id' ELSE 'event_id' END) = ANY (x.indkey::int2[]) AS has_event_id
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relname IN ('events', 'events_relays') AND x.indisunique
ORDER BY 1, 2;
-- The same as one verdict: no unique index, primary key or exclusion constraint without the event id.
SELECT count(*) AS without_event_id
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relname IN ('events', 'events_relays')
  AND (x.indisunique OR x.indisexclusion)
  AND NOT (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid
             AND a.attname = CASE c.relname WHEN 'events' THEN 'id' ELSE 'event_id' END) = ANY (x.indkey::int2[]);
-- No unique index on an expression either (indkey 0 is an expression column).
SELECT count(*) AS unique_on_expression
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
WHERE c.relnamespace = 'bigbrotr'::regnamespace AND c.relname IN ('events', 'events_relays')
  AND x.indisunique AND (x.indexprs IS NOT NULL OR 0 = ANY (x.indkey::int2[]));

-- events_relays has no foreign key (to events or relays), and nothing references it.
SELECT count(*) AS events_relays_foreign_keys FROM pg_constraint
WHERE contype = 'f' AND (conrelid = 'bigbrotr.events_relays'::regclass OR confrelid = 'bigbrotr.events_relays'::regclass);
-- Foreign keys that reference events or events_relays (none: a reference table cannot point into a
-- distributed one).
SELECT count(*) AS referencing_events FROM pg_constraint
WHERE contype = 'f' AND confrelid IN ('bigbrotr.events'::regclass, 'bigbrotr.events_relays'::regclass);
