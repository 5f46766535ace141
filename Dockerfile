# ccb: one image for every role. The command picks the role: gunicorn (web, the default),
# `celery -A ccb worker ...` or `celery -A ccb beat ...`; docker/entrypoint.sh waits for the
# database first and migrates only for the web role. See docker-compose.yml for the whole stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=ccb.settings \
    CCB_PRODUCTION=1 \
    CCB_VAR_DIR=/var/lib/ccb \
    MEDIA_ROOT=/var/lib/ccb/media \
    STATIC_ROOT=/app/staticfiles \
    GUNICORN_CMD_ARGS="--access-logfile - --worker-tmp-dir /dev/shm --no-control-socket --max-requests 1000 --max-requests-jitter 100 --graceful-timeout 30"

# An unprivileged user with fixed ids, so volumes and orchestrators (runAsNonRoot) agree on them.
RUN groupadd --system --gid 10001 ccb \
 && useradd --system --uid 10001 --gid ccb --home-dir /var/lib/ccb --no-create-home \
            --shell /usr/sbin/nologin ccb

# Dependencies first, so code changes do not reinstall them. requirements.txt is the pinned,
# complete pip-compile output: --no-deps installs exactly it, and pip check proves it complete.
# Every pinned package ships a manylinux wheel (psycopg-binary included), so no compiler is needed.
WORKDIR /app
COPY requirements.txt ./
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --no-deps -r requirements.txt \
 && pip check

# The code is owned by root and read-only to the app user; only /var/lib/ccb is writable.
COPY . .
# Hashed, compressed static files are built into the image (WhiteNoise serves them). Settings
# refuse to load without SECRET_KEY under CCB_PRODUCTION, so this one RUN gets a throwaway key
# inline: it lives only in this step's environment, never in the image's ENV. (The RUN line itself
# shows in `docker history`, which is why the value is a dummy and not a real key.)
# collectstatic writes with FILE_UPLOAD_PERMISSIONS (0640, root-owned here), and COPY keeps the
# build machine's modes, so everything under /app is then made world-readable (never writable):
# without that the app user cannot read staticfiles.json and every gunicorn worker fails to boot.
RUN CCB_PRODUCTION=1 SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime \
    python manage.py collectstatic --noinput --verbosity 1 \
 && python -m compileall -q ccb deployments notifications \
 && chmod -R a+rX,go-w /app \
 && chmod 0755 docker/entrypoint.sh \
 && install -d -o ccb -g ccb -m 0750 /var/lib/ccb /var/lib/ccb/media /var/lib/ccb/beat

USER 10001:10001
EXPOSE 8000

# /healthz runs SELECT 1, so it fails when the database is unreachable. The entrypoint's
# healthcheck sends a Host from ALLOWED_HOSTS and X-Forwarded-Proto: https, so neither the host
# check nor SECURE_SSL_REDIRECT turns the probe into a 400 or 301. Worker and beat containers
# override this (docker-compose.yml pings them through Celery instead).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["/app/docker/entrypoint.sh", "healthcheck"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
# Workers: WEB_CONCURRENCY if set, else the entrypoint picks 2 x CPUs + 1, at most 9.
CMD ["gunicorn", "ccb.wsgi:application", "--bind", "0.0.0.0:8000"]
