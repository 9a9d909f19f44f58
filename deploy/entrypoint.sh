#!/bin/sh
# The image's entrypoint: `tradepit <command>`, after the schema is migrated when
# TRADEPIT_MIGRATE_ON_START is 1 (the compose file's migrate service does it once instead).
set -eu
if [ "${TRADEPIT_MIGRATE_ON_START:-0}" = "1" ]; then
    tradepit migrate
fi
exec tradepit "$@"
