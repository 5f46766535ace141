"""Settings for the Celery worker the tests start as a subprocess: ccb's own, with quick redelivery
of a dead worker's task and short retry delays, so the tests finish in seconds."""

from ccb.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
NOTIFICATIONS_RETRY_BASE_SECONDS = 1
NOTIFICATIONS_RETRY_MAX_SECONDS = 2
NOTIFICATIONS_SMTP_TIMEOUT = 10
