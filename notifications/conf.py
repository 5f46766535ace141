"""Settings the outbox reads, with defaults; each is read when used, so tests can override it."""

from django.conf import settings

DEFAULTS = {
    # Transient failures wait base * 2**(attempt - 1) seconds, at most max, and give up after max attempts.
    "NOTIFICATIONS_RETRY_BASE_SECONDS": 30,
    "NOTIFICATIONS_RETRY_MAX_SECONDS": 3600,
    "NOTIFICATIONS_MAX_ATTEMPTS": 10,
    # How long one attempt owns a row. Must exceed the SMTP timeout by a wide margin.
    "NOTIFICATIONS_LEASE_SECONDS": 600,
    "NOTIFICATIONS_SMTP_TIMEOUT": 60,
    # A queued row this long past due was missed by the broker; the sweep enqueues it again.
    "NOTIFICATIONS_SWEEP_GRACE_SECONDS": 120,
}


def get(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def base_url() -> str:
    return settings.CCB_BASE_URL.rstrip("/")
