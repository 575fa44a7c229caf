#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a PostgreSQL that answers (see ensure-postgres.sh).
set -euo pipefail
DATABASE_URL=$("$(dirname "$0")/ensure-postgres.sh")
export DATABASE_URL
exec "$@"
