#!/bin/sh
# Run once by the postgres image (compose.yaml) when its data volume is empty, after
# 10-vendor-databases.sql, as POSTGRES_USER (orders, the owner of the databases, who
# runs the migrations): the role the daemons log in as. orders_app may connect to
# the three databases and read and write the rows of their tables, those the
# migrations create later included; it cannot create, alter or drop anything.
set -eu
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD, the password of the orders_app role}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE orders_app LOGIN PASSWORD :'app_password';
SQL

for database in ordersdb vendoradb vendorbdb; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$database" \
        --set database="$database" --set owner="$POSTGRES_USER" <<'SQL'
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO orders_app;
GRANT USAGE ON SCHEMA public TO orders_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO orders_app;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO orders_app;
SQL
done
