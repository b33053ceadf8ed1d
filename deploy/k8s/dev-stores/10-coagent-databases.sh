#!/usr/bin/env bash
# Creates one login role and one database per CoAgent service that owns tables. The role owns its
# database and nothing else, and PUBLIC may not connect, so no service can read another's tables.
#
# Run by the postgres image's entrypoint from /docker-entrypoint-initdb.d, once, when the data
# volume is empty. Passwords come from the container environment (<SERVICE>_DB_PASSWORD, set by
# compose.yaml); each database URL in compose.yaml uses the same variable.
set -Eeo pipefail

create_service_database() {
    local name="$1" password="$2"
    if [[ -z "${password}" ]]; then
        echo "init: no password for database role '${name}'" >&2
        return 1
    fi
    # psql variables (:'name', :'password') are quoted by psql, and format(%I/%L) quotes them again
    # for the statement that \gexec runs, so no password reaches the SQL text unescaped.
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
        --set=name="${name}" --set=password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'name', :'name') \gexec
SQL
    echo "init: database '${name}' owned by role '${name}'"
}

create_service_database gateway "${GATEWAY_DB_PASSWORD:-}"
create_service_database chat "${CHAT_DB_PASSWORD:-}"
create_service_database workflow_engine "${WORKFLOW_ENGINE_DB_PASSWORD:-}"
create_service_database trigger "${TRIGGER_DB_PASSWORD:-}"
create_service_database graphrag_ingest "${GRAPHRAG_INGEST_DB_PASSWORD:-}"
