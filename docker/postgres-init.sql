-- Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d), as the
-- superuser. One role and one database per component, so each owns its schema and nothing else.
-- The passwords are development defaults; docker-compose.yaml uses the same ones in its URLs.

CREATE ROLE airflow LOGIN PASSWORD 'airflow';
CREATE DATABASE airflow OWNER airflow;

CREATE ROLE mlflow LOGIN PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;

CREATE ROLE monitoring LOGIN PASSWORD 'monitoring';
CREATE DATABASE monitoring OWNER monitoring;

-- Since PostgreSQL 15 the public schema belongs to pg_database_owner, so each owner above can
-- create its tables there; nobody else may connect to a database that is not theirs.
REVOKE CONNECT ON DATABASE airflow FROM PUBLIC;
REVOKE CONNECT ON DATABASE mlflow FROM PUBLIC;
REVOKE CONNECT ON DATABASE monitoring FROM PUBLIC;
