-- relay_metadata_latest: every relay with its newest snapshot and that snapshot's documents. Columns
-- are only ever added at the end (CREATE OR REPLACE VIEW in the upgrades, so views a user built on it
-- survive an update).
CREATE VIEW bigbrotr.relay_metadata_latest AS
SELECT r.url AS relay_url,
       r.network,
       r.inserted_at,
       m.generated_at,
       m.nip66_id,
       n66.openable  AS nip66_openable,
       n66.readable  AS nip66_readable,
       n66.writable  AS nip66_writable,
       n66.rtt_open  AS nip66_rtt_open,
       n66.rtt_read  AS nip66_rtt_read,
       n66.rtt_write AS nip66_rtt_write,
       m.nip11_id,
       n11.name             AS nip11_name,
       n11.description      AS nip11_description,
       n11.banner           AS nip11_banner,
       n11.icon             AS nip11_icon,
       n11.pubkey           AS nip11_pubkey,
       n11.contact          AS nip11_contact,
       n11.supported_nips   AS nip11_supported_nips,
       n11.software         AS nip11_software,
       n11.version          AS nip11_version,
       n11.privacy_policy   AS nip11_privacy_policy,
       n11.terms_of_service AS nip11_terms_of_service,
       n11.limitation       AS nip11_limitation,
       n11.extra_fields     AS nip11_extra_fields,
       n66.auth_required    AS nip66_auth_required  -- 0.3.0: last, so CREATE OR REPLACE VIEW could add it
FROM bigbrotr.relays r
LEFT JOIN LATERAL (
    SELECT rm.generated_at, rm.nip11_id, rm.nip66_id
    FROM bigbrotr.relay_metadata rm
    WHERE rm.relay_url = r.url
    ORDER BY rm.generated_at DESC
    LIMIT 1
) m ON true
LEFT JOIN bigbrotr.nip11 n11 ON n11.id = m.nip11_id
LEFT JOIN bigbrotr.nip66 n66 ON n66.id = m.nip66_id;
