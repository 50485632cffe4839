-- Finder configuration: the HTTP API sources it reads relay URLs from. Each source answers a JSON
-- array of relay URL strings. Add, disable or retime sources with plain SQL.
CREATE TABLE bigbrotr.finder_sources (
    url             text    PRIMARY KEY CHECK (url ~* '^https?://'),
    enabled         boolean NOT NULL DEFAULT true,
    timeout_seconds integer CHECK (timeout_seconds BETWEEN 1 AND 3600),  -- NULL: bigbrotr.finder_timeout
    added_at        timestamptz NOT NULL DEFAULT now(),
    builtin         boolean NOT NULL DEFAULT false  -- installed by CREATE EXTENSION
);
COMMENT ON TABLE bigbrotr.finder_sources IS
    'HTTP(S) sources of relay URLs for the finder service: each answers a JSON array of strings';

INSERT INTO bigbrotr.finder_sources (url, builtin) VALUES
    ('https://api.nostr.watch/v1/online', true),
    ('https://api.nostr.watch/v1/offline', true);

-- pg_dump keeps the sources a user added. The built-in rows are left out: CREATE EXTENSION makes them
-- again on restore, and dumping them too would make the restore's COPY fail on their primary key
-- (losing every user row with them). An edit to a built-in row is therefore not kept by a dump.
SELECT pg_catalog.pg_extension_config_dump('bigbrotr.finder_sources', 'WHERE NOT builtin');

-- The finder's archive queue: one row per stored kind 3 or kind 10002 event, added by a trigger in the
-- transaction that first stores the event (so each event is queued exactly once, whichever relay it
-- came from and however late it arrives). The finder reads it in id order, a page at a time through
-- the primary key, and deletes each page in the transaction that stores the relays found in it: a
-- page costs O(page) however large the archive, and a stopped or crashed finder resumes where its last
-- committed page left off. An event whose transaction is still open when a page is read is simply read
-- in a later page or cycle. The queue is transient state: pg_dump leaves it out.
CREATE TABLE bigbrotr.finder_queue (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id bytea  NOT NULL
);
COMMENT ON TABLE bigbrotr.finder_queue IS
    'kind 3 and kind 10002 events not yet read by the finder (filled by a trigger on bigbrotr.events)';

CREATE FUNCTION bigbrotr.finder_queue_event() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO bigbrotr.finder_queue (event_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$;

-- AFTER INSERT fires only for rows really inserted (not for ON CONFLICT DO NOTHING duplicates).
CREATE TRIGGER events_finder_queue AFTER INSERT ON bigbrotr.events
    FOR EACH ROW WHEN (NEW.kind IN (3, 10002)) EXECUTE FUNCTION bigbrotr.finder_queue_event();

-- One page of the queue from position p_from on, with what the finder reads of each event: the `r`
-- tag values of a 10002, the content of a kind 3 (kind NULL: the event was deleted since). Inlined by
-- the planner (a plain SQL function), so EXPLAIN of a call shows the plan the finder runs: an index
-- scan of the queue's key that stops at the LIMIT, and one primary-key probe of events per row.
CREATE FUNCTION bigbrotr.finder_archive_page(p_from bigint, p_limit integer)
RETURNS TABLE (queue_id bigint, kind integer, relay_tags text[], content text)
LANGUAGE sql STABLE
AS $$
    SELECT q.id, e.kind,
           CASE WHEN e.kind = 10002 THEN ARRAY(
               SELECT t->>1 FROM jsonb_array_elements(e.tags) t
               WHERE jsonb_typeof(t) = 'array' AND t->>0 = 'r' AND jsonb_typeof(t->1) = 'string') END,
           CASE WHEN e.kind = 3 THEN e.content END
    FROM bigbrotr.finder_queue q LEFT JOIN bigbrotr.events e ON e.id = q.event_id
    WHERE q.id >= p_from
    ORDER BY q.id
    LIMIT p_limit
$$;
