#!/bin/sh
# compose.yaml's cluster-init: run at every `up` of the cluster profile, against the
# Patroni leader (PGHOST lists the members, PGTARGETSESSIONATTRS=read-write finds the
# primary) as the superuser. Does what the postgres image and postgres/initdb do for
# the single server: the owner of the databases (orders, who runs the migrations),
# the three databases, then initdb/20-app-role.sh's role for the daemons. Each step
# only when missing, so a second `up` changes nothing.
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, the password of the databases' owner}"

until pg_isready -q -d postgres; do sleep 1; done

if [ "$(psql -qAt -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'orders'")" != 1 ]; then
    psql -v ON_ERROR_STOP=1 -d postgres --set owner_password="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE orders LOGIN PASSWORD :'owner_password';
SQL
fi
for database in ordersdb vendoradb vendorbdb; do
    if [ "$(psql -qAt -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
        psql -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $database OWNER orders"
    fi
done
if [ "$(psql -qAt -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'orders_app'")" != 1 ]; then
    PGUSER=orders PGPASSWORD="$POSTGRES_PASSWORD" POSTGRES_USER=orders POSTGRES_DB=ordersdb sh /postgres/initdb/20-app-role.sh
fi
