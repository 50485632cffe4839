-- Run once by the postgres image's entrypoint in database bigbrotr.
CREATE EXTENSION IF NOT EXISTS bigbrotr;
ALTER DATABASE bigbrotr SET search_path = "$user", public, bigbrotr;
SELECT name, bigbrotr.bigbrotr_start(name) FROM bigbrotr.bigbrotr_services();
