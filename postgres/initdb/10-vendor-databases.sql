-- Run once by the postgres image (compose.yaml) when its data volume is empty,
-- as POSTGRES_USER (orders) in POSTGRES_DB (ordersdb): the two vendor databases.
-- 20-app-role.sh then creates the role the daemons use.
-- scripts/services creates the same three databases for local runs.
CREATE DATABASE vendoradb OWNER orders;
CREATE DATABASE vendorbdb OWNER orders;
