-- Run once by the postgres image's entrypoint in database bigbrotr. The control functions land in
-- schema public (callable unqualified), the data in schema bigbrotr; no other extension is needed.
CREATE EXTENSION IF NOT EXISTS bigbrotr;
SELECT name, bigbrotr_start(name) FROM bigbrotr_services();
