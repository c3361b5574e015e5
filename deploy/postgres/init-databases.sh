#!/bin/sh
# First start of the PostgreSQL container: one database and one role per part of the platform, each
# role owning only its own database, so that no service can read another's tables (intake's key
# store above all). Passwords come from the environment of the postgres service in compose.yaml.
set -eu
for part in intake routing escalation training notifications web; do
  var="SHAKTI_DB_$(echo "$part" | tr a-z A-Z)_PASSWORD"
  eval "password=\${$var:?$var is not set}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$part" -v password="$password" -v db="shakti_$part" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
done
