#!/bin/sh
# Prints, on stdout, every Secret the dev overlay needs, filled with fresh random values:
#
#   kubectl apply -f deploy/k8s/overlays/dev/namespace.yaml
#   sh deploy/k8s/dev-secrets.sh | kubectl apply -n coagent-dev -f -
#
# Run it once: applying a second output changes every password, and the dev stores keep the
# ones they were initialised with. The keys are those documented in deploy/k8s/README.md; for
# production create the same Secrets from your secret manager, with your stores' URLs.
set -eu

# 32 random bytes as 64 hex digits: safe in URLs, YAML and command lines (never starts with -).
token() {
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# A Fernet key: 32 random bytes, URL-safe base64 with its padding.
fernet_key() {
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'
}

secret() {
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/part-of: coagent\ntype: Opaque\nstringData:\n' "$1"
}

entry() {
    printf '  %s: "%s"\n' "$1" "$2"
}

database_url() {
    # $1: role and database name, $2: password
    printf 'postgresql+asyncpg://%s:%s@postgres:5432/%s' "$1" "$2" "$1"
}

postgres_pw=$(token)
gateway_db_pw=$(token)
chat_db_pw=$(token)
workflow_engine_db_pw=$(token)
trigger_db_pw=$(token)
graphrag_ingest_db_pw=$(token)
redis_pw=$(token)
neo4j_pw=$(token)

secret coagent-dev-stores
entry POSTGRES_PASSWORD "$postgres_pw"
entry GATEWAY_DB_PASSWORD "$gateway_db_pw"
entry CHAT_DB_PASSWORD "$chat_db_pw"
entry WORKFLOW_ENGINE_DB_PASSWORD "$workflow_engine_db_pw"
entry TRIGGER_DB_PASSWORD "$trigger_db_pw"
entry GRAPHRAG_INGEST_DB_PASSWORD "$graphrag_ingest_db_pw"
entry REDIS_PASSWORD "$redis_pw"
entry NEO4J_PASSWORD "$neo4j_pw"

secret coagent-common
entry COAGENT_INTERNAL_TOKEN_SECRET "$(token)"
entry COAGENT_REDIS_URL "redis://:${redis_pw}@redis:6379/0"

secret gateway
entry GATEWAY_DATABASE_URL "$(database_url gateway "$gateway_db_pw")"
entry GATEWAY_JWT_SECRET "$(token)"

secret chat
entry CHAT_DATABASE_URL "$(database_url chat "$chat_db_pw")"

secret workflow-engine
entry WORKFLOW_ENGINE_DATABASE_URL "$(database_url workflow_engine "$workflow_engine_db_pw")"
entry WORKFLOW_ENGINE_ENCRYPTION_KEYS "$(fernet_key)"

secret trigger
entry TRIGGER_DATABASE_URL "$(database_url trigger "$trigger_db_pw")"
entry TRIGGER_WEBHOOK_SECRET_KEY "$(token)"

secret graphrag-ingest
entry GRAPHRAG_INGEST_DATABASE_URL "$(database_url graphrag_ingest "$graphrag_ingest_db_pw")"
entry COAGENT_NEO4J_PASSWORD "$neo4j_pw"

secret graphrag-query
entry COAGENT_NEO4J_PASSWORD "$neo4j_pw"
