-- The nostr core (src/nostr) exposed to SQL: event verification and ids, relay URL rules.

CREATE TYPE bigbrotr.event_verification AS (valid boolean, reason text, message text);

-- Parses the event strictly, recomputes its id and verifies its BIP-340 signature. reason is a
-- stable code ('ok', 'bad_json', 'bad_field', 'id_mismatch', 'bad_signature', ...).
CREATE FUNCTION bigbrotr.event_verify(event text) RETURNS bigbrotr.event_verification
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_event_verify_text';

CREATE FUNCTION bigbrotr.event_verify(event jsonb) RETURNS bigbrotr.event_verification
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT bigbrotr.event_verify(event::text) $$;

-- The NIP-01 id (lower-case hex SHA-256 of [0,pubkey,created_at,kind,tags,content]).
CREATE FUNCTION bigbrotr.event_id(pubkey text, created_at bigint, kind integer, tags jsonb, content text)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_event_id_fields';

CREATE FUNCTION bigbrotr.event_id(event jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    IF jsonb_typeof(event) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'event_id: expected a JSON object, got %', jsonb_typeof(event)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(event->'pubkey') IS DISTINCT FROM 'string'
       OR jsonb_typeof(event->'created_at') IS DISTINCT FROM 'number'
       OR jsonb_typeof(event->'kind') IS DISTINCT FROM 'number'
       OR jsonb_typeof(event->'tags') IS DISTINCT FROM 'array'
       OR jsonb_typeof(event->'content') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'event_id: the event needs pubkey (string), created_at (number), kind (number), tags (array) and content (string)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN bigbrotr.event_id(event->>'pubkey', (event->>'created_at')::bigint, (event->>'kind')::integer,
                             event->'tags', event->>'content');
END;
$$;

-- Never raises: (valid, normalized, network, address_class, reason, message).
CREATE FUNCTION bigbrotr.relay_url_check(url text,
    OUT valid boolean, OUT normalized text, OUT network text, OUT address_class text,
    OUT reason text, OUT message text)
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_check';

-- The normal form (lower-case host, no default port, no lone trailing slash); invalid URLs raise.
CREATE FUNCTION bigbrotr.relay_url_normalize(url text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_normalize';

-- 'tor' for .onion v3 hosts, 'clearnet' otherwise; invalid URLs raise.
CREATE FUNCTION bigbrotr.relay_url_network(url text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'bigbrotr_relay_url_network';
