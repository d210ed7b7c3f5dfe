-- Creates the two databases of the deployment, each with its own login role:
--   airflow   Airflow's metadata database (and the Celery result backend)
--   skolehub  the hub's state and reporting store (HUB_DATABASE_URL)
--
-- The postgres image runs this once, on the first start with an empty data volume, as
-- the superuser. Passwords come from the container's environment (set from docker/.env),
-- never from this file: psql's \getenv reads them, and `:'name'` quotes them as literals.
-- A missing variable leaves `:'name'` unexpanded, so the statement fails and the
-- container stops instead of creating a role without a password.
\set ON_ERROR_STOP on
\getenv airflow_password AIRFLOW_DB_PASSWORD
\getenv skolehub_password SKOLEHUB_DB_PASSWORD

CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8';
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

CREATE ROLE skolehub LOGIN PASSWORD :'skolehub_password';
CREATE DATABASE skolehub OWNER skolehub ENCODING 'UTF8';
REVOKE ALL ON DATABASE skolehub FROM PUBLIC;
