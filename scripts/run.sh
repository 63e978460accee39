#!/usr/bin/env bash
# Sets up and starts the playground on http://127.0.0.1:8000 with the embedded defaults
# (SQLite under ./data, in-memory channel layer). Usage: ./scripts/run.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8000}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput -v 0
echo "Memory Manager Playground on http://127.0.0.1:${PORT}/"
exec .venv/bin/daphne -b 127.0.0.1 -p "${PORT}" playground.asgi:application
