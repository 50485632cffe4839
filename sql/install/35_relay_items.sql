-- A relay's item set for a time window, for NIP-77 negentropy (0.3.0): the (created_at, id) of every
-- event linked to the relay in events_relays with since <= created_at <= until, in negentropy's order
-- (created_at, then id), at most p_limit rows (NULL: all). The relay URL is normalized by
-- bigbrotr.relay_url_canonical (22023 for an invalid URL, 22004 for NULL); a NULL bound is open.
-- A plain SQL function, so the planner inlines it: the plan is an index-only scan of
-- events_relays_relay_url_event_created_at_idx in its order, no Sort, no visit of events
-- (sql/09_relay_items.sql checks the plan).
CREATE FUNCTION bigbrotr.relay_items(p_relay_url text, p_since bigint, p_until bigint, p_limit integer)
RETURNS TABLE (created_at bigint, id bytea)
LANGUAGE sql STABLE
AS $$
    SELECT er.event_created_at, er.event_id
    FROM bigbrotr.events_relays er
    WHERE er.relay_url = (bigbrotr.relay_url_canonical(p_relay_url, NULL)).normalized
      AND er.event_created_at >= coalesce(p_since, '-9223372036854775808'::bigint)
      AND er.event_created_at <= coalesce(p_until, '9223372036854775807'::bigint)
    ORDER BY er.event_created_at, er.event_id
    LIMIT p_limit
$$;
