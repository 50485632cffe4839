-- nip66.auth_required (0.3.0): the monitor's observed NIP-42 AUTH, NULL when not tested. A result
-- without it hashes exactly as before 0.3.0 (the ids of upgraded archives keep deduplicating), one
-- with true or false gets its own id; both insert paths store it and relay_metadata_latest shows it.
SET search_path = bigbrotr, public;
SET client_min_messages = warning;

-- The 0.2.0 vector of (true, true, false, 12, 34, NULL) (sql/05_hash_vectors.sql), with auth_required
-- NULL given or left out; true and false differ from it and from each other.
SELECT encode(compute_nip66_hash(true, true, false, 12, 34, NULL, NULL), 'hex')
         = '440cf8505f7868e7a435176350c7f8eaae708aa1feed45be80cac5b78b0022b8' AS null_is_the_020_hash,
       compute_nip66_hash(true, true, false, 12, 34, NULL) = compute_nip66_hash(true, true, false, 12, 34, NULL, NULL)
         AS omitted_is_null;
SELECT encode(compute_nip66_hash(true, true, false, 12, 34, NULL, true), 'hex') AS auth_true,
       encode(compute_nip66_hash(true, true, false, 12, 34, NULL, false), 'hex') AS auth_false;
-- The seventh element is the jsonb array's: sha256 of '[true, true, false, 12, 34, null, true]'.
SELECT compute_nip66_hash(true, true, false, 12, 34, NULL, true)
         = sha256(convert_to('[true, true, false, 12, 34, null, true]', 'UTF8')) AS seven_fields;

-- The batch form (what the monitor calls) reads nip66.auth_required; absent or null is NULL.
SELECT insert_relay_metadata_batch('[
  {"relay_url": "wss://auth.one", "network": "clearnet", "inserted_at": 1, "generated_at": 10,
   "nip66": {"openable": true, "readable": false, "writable": false, "rtt_open": 12, "auth_required": true}},
  {"relay_url": "wss://auth.two", "network": "clearnet", "inserted_at": 1, "generated_at": 10,
   "nip66": {"openable": true, "readable": true, "writable": false, "rtt_open": 12, "rtt_read": 34, "auth_required": false}},
  {"relay_url": "wss://auth.three", "network": "clearnet", "inserted_at": 1, "generated_at": 10,
   "nip66": {"openable": true, "readable": true, "writable": false, "rtt_open": 12, "rtt_read": 34}},
  {"relay_url": "wss://auth.four", "network": "clearnet", "inserted_at": 1, "generated_at": 10,
   "nip66": {"openable": true, "readable": true, "writable": false, "rtt_open": 12, "rtt_read": 34, "auth_required": null}}
]') AS new_snapshots;
-- The positional form takes it as its last argument (left out: NULL, as 0.2.0 callers do).
SELECT insert_relay_metadata('wss://auth.five', 'clearnet', 1, 10, true, true, false, false, 12, NULL, NULL,
    false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true);
SELECT insert_relay_metadata('wss://auth.six', 'clearnet', 1, 10, true, true, false, false, 12, NULL, NULL,
    false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT relay_url, nip66_openable, nip66_readable, nip66_auth_required,
       nip66_id = compute_nip66_hash(nip66_openable, nip66_readable, nip66_writable, nip66_rtt_open, nip66_rtt_read,
                                     nip66_rtt_write, nip66_auth_required) AS id_is_hash
FROM relay_metadata_latest WHERE relay_url LIKE 'wss://auth.%' ORDER BY relay_url;
-- Three and four share one row (both not tested), two is its own (tested: no AUTH).
SELECT count(DISTINCT nip66_id) AS nip66_rows FROM relay_metadata
WHERE relay_url IN ('wss://auth.two', 'wss://auth.three', 'wss://auth.four');
-- The view's new column comes last.
SELECT attname FROM pg_attribute WHERE attrelid = 'relay_metadata_latest'::regclass
ORDER BY attnum DESC LIMIT 1;
-- A value that is not a boolean is refused (22P02), as for the other fields.
\set VERBOSITY terse
SELECT insert_relay_metadata_batch('[{"relay_url": "wss://auth.bad", "network": "clearnet", "inserted_at": 1,
  "generated_at": 10, "nip66": {"openable": true, "auth_required": "maybe"}}]');
