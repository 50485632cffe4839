-- The service SQL API: registry, argument checks, privileges (no worker is started here: the regress
-- database is not bigbrotr.database).
SET search_path = bigbrotr, public;
SELECT name, lifecycle FROM bigbrotr_services() ORDER BY name;
SELECT bigbrotr_start('no_such_service');
SELECT bigbrotr_start('initializer');
SELECT bigbrotr_start(NULL);
SELECT name, enabled, running, cycles_run FROM bigbrotr_status() ORDER BY name;
CREATE ROLE bigbrotr_regress_user;
SET ROLE bigbrotr_regress_user;
SELECT bigbrotr_start('initializer');
SELECT bigbrotr_stop('initializer');
SELECT count(*) > 0 AS can_read_status FROM bigbrotr.bigbrotr_status();
RESET ROLE;
DROP ROLE bigbrotr_regress_user;
