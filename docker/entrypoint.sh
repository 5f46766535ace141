#!/bin/sh
# Entrypoint for every ccb container. The first argument names the role:
#
#   gunicorn ...        web: wait for the database, run `manage.py migrate --noinput`, exec gunicorn
#   web [ARGS]          web with the default command (gunicorn ccb.wsgi:application on 0.0.0.0:8000)
#   celery ...          worker or beat: wait for the database and until its migrations are applied
#                       (the web container applies them), then exec celery
#   healthcheck         probe http://127.0.0.1:8000/healthz once; used by the image's HEALTHCHECK
#   anything else       wait for the database, then exec it (python manage.py createsuperuser, sh)
#
# Environment:
#   CCB_MIGRATE=1|0            migrate before any command / never, not even for web (say, when web
#                              replicas run behind a release job that migrates); default: web only.
#                              Concurrent migrators on PostgreSQL take turns on an advisory lock.
#   CCB_WAIT_FOR_MIGRATIONS=0  celery roles start without waiting for the migrations
#   CCB_WAIT_FOR_DB=0          exec the command at once: no database wait, no migrate
#   CCB_WAIT_TIMEOUT=120       seconds each wait may take before the container fails (and restarts)
#   WEB_CONCURRENCY            gunicorn workers; unset, 2 x CPUs + 1 (CPU quota respected), at most 9
set -eu

cd "$(dirname "$0")/.."

if [ "${1:-}" = healthcheck ]; then
    # Host: the first usable ALLOWED_HOSTS entry, so the host check answers 200, not 400.
    # X-Forwarded-Proto: settings trust it (SECURE_PROXY_SSL_HEADER), so SECURE_SSL_REDIRECT
    # does not answer the plain-http probe with a 301.
    exec python - <<'PY'
import http.client
import os
import sys

hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
try:
    conn = http.client.HTTPConnection("127.0.0.1", 8000, timeout=8)
    conn.request("GET", "/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"})
    response = conn.getresponse()
    body = response.read(300)
except OSError as exc:
    sys.exit(f"healthz: {exc}")
if response.status != 200:
    sys.exit(f"healthz: HTTP {response.status} {body!r}")
PY
fi

if [ "$#" -eq 0 ]; then
    echo "entrypoint: no command given" >&2
    exit 64
fi

case "${1##*/}" in
    web) shift; set -- gunicorn ccb.wsgi:application --bind 0.0.0.0:8000 "$@"; role=web ;;
    gunicorn) role=web ;;
    celery) role=celery ;;
    *) role=other ;;
esac

if [ "$role" = web ] && [ -z "${WEB_CONCURRENCY:-}" ]; then
    cpus=$(nproc 2>/dev/null || echo 1)
    # cgroup v2 CPU quota (docker run --cpus, compose cpus:) is not visible to nproc.
    if [ -r /sys/fs/cgroup/cpu.max ]; then
        read -r quota period < /sys/fs/cgroup/cpu.max || true
        if [ "${quota:-max}" != max ] && [ "${period:-0}" -gt 0 ]; then
            limit=$(( (quota + period - 1) / period ))
            if [ "$limit" -lt "$cpus" ]; then cpus=$limit; fi
        fi
    fi
    workers=$((2 * cpus + 1))
    if [ "$workers" -gt 9 ]; then workers=9; fi
    export WEB_CONCURRENCY="$workers"
fi

migrate=0
if [ "$role" = web ]; then migrate=1; fi
case "${CCB_MIGRATE:-}" in
    1|true|yes|on) migrate=1 ;;
    0|false|no|off) migrate=0 ;;
esac
wait_migrations=0
if [ "$role" = celery ] && [ "$migrate" = 0 ]; then
    case "${CCB_WAIT_FOR_MIGRATIONS:-1}" in
        0|false|no|off) ;;
        *) wait_migrations=1 ;;
    esac
fi

case "${CCB_WAIT_FOR_DB:-1}" in
    0|false|no|off) exec "$@" ;;
esac

CCB_ENTRYPOINT_MIGRATE=$migrate CCB_ENTRYPOINT_WAIT_MIGRATIONS=$wait_migrations python - <<'PY'
import os
import subprocess
import sys
import time


def log(message):
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


timeout = float(os.environ.get("CCB_WAIT_TIMEOUT", "120"))

import django  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

try:
    django.setup()
except (RuntimeError, ImproperlyConfigured) as exc:  # e.g. SECRET_KEY missing under CCB_PRODUCTION
    log(f"settings refused to load: {exc}")
    sys.exit(1)

from django.db import connection  # noqa: E402
from django.db.utils import OperationalError  # noqa: E402

deadline = time.monotonic() + timeout
attempt = 0
while True:
    try:
        connection.ensure_connection()
        break
    except OperationalError as exc:
        if time.monotonic() >= deadline:
            log(f"database still unreachable after {timeout:.0f}s: {first_line(exc)}")
            sys.exit(1)
        if attempt % 10 == 0:
            log(f"waiting for the database: {first_line(exc)}")
        attempt += 1
        time.sleep(1)
log(f"database is up ({connection.vendor})")

if os.environ["CCB_ENTRYPOINT_MIGRATE"] == "1":
    # Replicas started together queue here instead of racing to create the same tables.
    # The lock is held by this session while a separate process migrates; it ends with us.
    lock_key = 0x6363626D  # "ccbm"
    locked = connection.vendor == "postgresql"
    if locked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_key])
    try:
        status = subprocess.call([sys.executable, "manage.py", "migrate", "--noinput"])
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_key])
    sys.exit(status)

if os.environ["CCB_ENTRYPOINT_WAIT_MIGRATIONS"] == "1":
    from django.db.migrations.executor import MigrationExecutor

    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            break
        if time.monotonic() >= deadline:
            log(f"{len(plan)} migration(s) still unapplied after {timeout:.0f}s "
                "(the web container, or CCB_MIGRATE=1 on a one-off run, applies them)")
            sys.exit(1)
        if attempt % 5 == 0:
            log(f"waiting for {len(plan)} migration(s) to be applied, first {plan[0][0]}")
        attempt += 1
        time.sleep(2)
    log("migrations are applied")
PY

exec "$@"
