-- The service runtime's SQL surface: which services a user wants running (service_control, read by
-- the launcher worker), how each is doing (service_status, written by the workers), and the
-- functions bigbrotr_start / bigbrotr_stop / bigbrotr_status / bigbrotr_services.

CREATE TABLE bigbrotr.service_control (
    name         text        PRIMARY KEY,
    enabled      boolean     NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    requested_by name        NOT NULL DEFAULT session_user
);

CREATE TABLE bigbrotr.service_status (
    name                text        PRIMARY KEY,
    pid                 integer,
    started_at          timestamptz,
    cycles_run          bigint      NOT NULL DEFAULT 0,
    cycles_failed       bigint      NOT NULL DEFAULT 0,
    last_cycle_start    timestamptz,
    last_cycle_end      timestamptz,
    last_cycle_duration interval,
    last_error          text,
    last_error_at       timestamptz,
    last_cycle_stats    jsonb
);

-- The front door: the four control functions live in the extension's schema (@extschema@, normally
-- public), so that right after CREATE EXTENSION they are callable unqualified with the default
-- search_path: SELECT bigbrotr_start('monitor'); SELECT * FROM bigbrotr_status();

-- Services compiled into the library: name, lifecycle ('one-shot' or 'continuous'), description.
CREATE FUNCTION @extschema@.bigbrotr_services(
    OUT name text, OUT lifecycle text, OUT description text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bigbrotr_services'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION @extschema@.bigbrotr_start(service text) RETURNS boolean
AS 'MODULE_PATHNAME', 'bigbrotr_start'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.bigbrotr_stop(service text) RETURNS boolean
AS 'MODULE_PATHNAME', 'bigbrotr_stop'
LANGUAGE C STRICT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.bigbrotr_status(
    OUT name text, OUT lifecycle text, OUT enabled boolean, OUT running boolean, OUT pid integer,
    OUT started_at timestamptz, OUT cycles_run bigint, OUT cycles_failed bigint,
    OUT last_cycle_start timestamptz, OUT last_cycle_end timestamptz,
    OUT last_cycle_duration interval, OUT last_error text, OUT last_cycle_stats jsonb)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.name, s.lifecycle, coalesce(c.enabled, false),
           a.pid IS NOT NULL, a.pid, a.backend_start,
           coalesce(st.cycles_run, 0), coalesce(st.cycles_failed, 0),
           st.last_cycle_start, st.last_cycle_end, st.last_cycle_duration, st.last_error,
           st.last_cycle_stats
    FROM @extschema@.bigbrotr_services() s
    LEFT JOIN bigbrotr.service_control c ON c.name = s.name
    LEFT JOIN bigbrotr.service_status st ON st.name = s.name
    LEFT JOIN LATERAL (
        SELECT psa.pid, psa.backend_start FROM pg_catalog.pg_stat_activity psa
        WHERE psa.backend_type = 'bigbrotr ' || s.name
        ORDER BY psa.backend_start DESC LIMIT 1
    ) a ON true
    ORDER BY s.name
$$;

-- Starting and stopping services is for superusers; a superuser may delegate it with
--   GRANT EXECUTE ON FUNCTION bigbrotr_start(text), bigbrotr_stop(text) TO some_role;
REVOKE ALL ON FUNCTION @extschema@.bigbrotr_start(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.bigbrotr_stop(text) FROM PUBLIC;
REVOKE ALL ON TABLE bigbrotr.service_control FROM PUBLIC;
REVOKE ALL ON TABLE bigbrotr.service_status FROM PUBLIC;
GRANT USAGE ON SCHEMA bigbrotr TO PUBLIC;

-- The schema-qualified names, for scripts that call bigbrotr.bigbrotr_start(...) and the like: thin
-- forwards to the front door. They are not SECURITY DEFINER and hold no privilege of their own: the
-- caller needs EXECUTE on the function they forward to, so the GRANT and REVOKE above govern both
-- names (granting on these would add nothing).
CREATE FUNCTION bigbrotr.bigbrotr_services(
    OUT name text, OUT lifecycle text, OUT description text)
RETURNS SETOF record
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM @extschema@.bigbrotr_services() $$;

CREATE FUNCTION bigbrotr.bigbrotr_start(service text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT
AS $$ SELECT @extschema@.bigbrotr_start(service) $$;

CREATE FUNCTION bigbrotr.bigbrotr_stop(service text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT
AS $$ SELECT @extschema@.bigbrotr_stop(service) $$;

CREATE FUNCTION bigbrotr.bigbrotr_status(
    OUT name text, OUT lifecycle text, OUT enabled boolean, OUT running boolean, OUT pid integer,
    OUT started_at timestamptz, OUT cycles_run bigint, OUT cycles_failed bigint,
    OUT last_cycle_start timestamptz, OUT last_cycle_end timestamptz,
    OUT last_cycle_duration interval, OUT last_error text, OUT last_cycle_stats jsonb)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$ SELECT * FROM @extschema@.bigbrotr_status() $$;
