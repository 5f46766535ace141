"""Sending outbox rows through Django's email backend, each exactly once as far as SMTP allows.

An attempt goes:

1. claim: lock the row (``select_for_update(skip_locked=True)``), check it is ``queued`` and due,
   mark it ``sending`` with a lease owned by this attempt, commit;
2. connect to the SMTP server (a failure here sent nothing, so it is retried without doubt);
3. stamp ``handed_at``, only while this attempt still owns an unexpired lease, commit;
4. hand the message over; 5. mark it ``sent``.

A task delivered again (the worker died and the broker redelivers it, or the sweep and a retry
both wake a worker) finds the row ``sending`` or ``sent`` and does nothing.

The one window no protocol closes is a worker dying after the server accepted the message (250
after DATA) and before step 5 commits. We choose never to resend such a row on our own: the sweep
marks a ``sending`` row whose lease expired *after* ``handed_at`` as ``uncertain`` ("delivery
unknown") for an administrator to look at, and retry by hand if the recipient did not get it. A
row whose lease expired *before* ``handed_at`` never reached SMTP and is retried automatically.
Every attempt carries the row's Message-ID, so a resend an administrator asks for is a duplicate
that receivers which de-duplicate by Message-ID drop. Losing the message silently is worse than a
duplicate, and sending twice is worse than asking a person: hence this choice.

Only transient errors are retried, with exponential backoff: connection refused or reset, time
outs, SMTPConnectError, SMTPServerDisconnected and 4xx replies. Everything else (5xx replies, a
message the backend cannot build) fails the row at once with the error, shown in the admin.
"""

import logging
import os
import smtplib
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from . import conf
from .models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)
S = OutboxStatus


@dataclass(frozen=True)
class Outcome:
    """What an attempt did: the row's status after it (or busy, missing, early, lost_lease)."""

    status: str
    retry_in: float | None = None


def outbox_send(*, outbox_id: int) -> Outcome:
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    claimed = _claim(outbox_id, owner)
    if isinstance(claimed, Outcome):
        return claimed
    email = build_email(claimed)
    connection = get_connection(timeout=conf.get("NOTIFICATIONS_SMTP_TIMEOUT"))
    try:
        connection.open()
        if not _mark_handed(claimed.pk, owner):
            logger.warning("notifications: outbox %s: lease lost before sending; not sent", claimed.pk)
            return Outcome("lost_lease")
        connection.send_messages([email])
    except Exception as exc:
        return _record_failure(claimed.pk, owner, exc)
    finally:
        _close(connection)
    return _record_sent(claimed.pk, owner)


def _claim(outbox_id: int, owner: str) -> OutboxMessage | Outcome:
    now = timezone.now()
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=outbox_id).first()
        if row is None:
            # Locked by another attempt right now (it will finish the job), or gone.
            exists = OutboxMessage.objects.filter(pk=outbox_id).exists()
            return Outcome("busy" if exists else "missing")
        if row.status != S.QUEUED:
            return Outcome(row.status)
        if row.next_attempt_at > now:
            return Outcome("early", retry_in=(row.next_attempt_at - now).total_seconds())
        row.status, row.attempts, row.lease_owner = S.SENDING, row.attempts + 1, owner
        row.lease_expires_at = now + timedelta(seconds=conf.get("NOTIFICATIONS_LEASE_SECONDS"))
        row.handed_at = None
        row.save(update_fields=["status", "attempts", "lease_owner", "lease_expires_at", "handed_at"])
    return row


def _mark_handed(outbox_id: int, owner: str) -> bool:
    now = timezone.now()
    return bool(
        OutboxMessage.objects.filter(
            pk=outbox_id, status=S.SENDING, lease_owner=owner, lease_expires_at__gt=now
        ).update(handed_at=now)
    )


def _record_sent(outbox_id: int, owner: str) -> Outcome:
    # UNCERTAIN too: the sweep may have given up on a slow attempt that then did finish.
    done = OutboxMessage.objects.filter(pk=outbox_id, lease_owner=owner, status__in=[S.SENDING, S.UNCERTAIN])
    done.update(status=S.SENT, sent_at=timezone.now(), lease_expires_at=None, last_error="")
    return Outcome(S.SENT)


def _record_failure(outbox_id: int, owner: str, exc: Exception) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    transient = is_transient(exc)
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().filter(pk=outbox_id, lease_owner=owner).first()
        if row is None or row.status not in (S.SENDING, S.UNCERTAIN):
            return Outcome("lost_lease")
        row.lease_expires_at, row.handed_at, row.last_error = None, None, error
        if transient and row.attempts < conf.get("NOTIFICATIONS_MAX_ATTEMPTS"):
            delay = backoff_seconds(row.attempts)
            row.status, row.next_attempt_at = S.QUEUED, timezone.now() + timedelta(seconds=delay)
            row.save()
            logger.warning(
                "notifications: outbox %s attempt %s failed (%s); retry in %ss", outbox_id, row.attempts, error, delay
            )
            return Outcome(S.QUEUED, retry_in=delay)
        if transient:
            row.last_error = f"Gave up after {row.attempts} attempts. Last error: {error}"
        row.status = S.FAILED
        row.save()
    logger.error("notifications: outbox %s failed: %s", outbox_id, row.last_error)
    return Outcome(S.FAILED)


def backoff_seconds(attempts: int) -> int:
    base, cap = conf.get("NOTIFICATIONS_RETRY_BASE_SECONDS"), conf.get("NOTIFICATIONS_RETRY_MAX_SECONDS")
    return min(cap, base * 2 ** max(0, attempts - 1))


def is_transient(exc: BaseException) -> bool:
    """Worth trying again later: the server was unreachable, went away, or answered 4xx."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPException):  # SMTPNotSupportedError and the like: configuration
        return False
    return isinstance(exc, OSError)  # refused, reset, timed out, unreachable, name lookup


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # the message is already accepted or already failed; QUIT does not matter
        logger.debug("notifications: closing the SMTP connection failed", exc_info=True)


def build_email(row: OutboxMessage) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=row.to,
        headers={**row.headers, "Message-ID": row.message_id},
    )
    if row.body_html:
        email.attach_alternative(row.body_html, "text/html")
    for attachment in row.attachments:
        if attachment["mimetype"].startswith("text/calendar"):
            # As calendar invitations from calendar servers are built: an inline text/calendar part,
            # which Outlook and Apple Mail turn into Accept/Decline, and an .ics file for the rest.
            email.attach_alternative(attachment["content"], attachment["mimetype"])
            email.attach(attachment["filename"], attachment["content"].encode(), "application/ics")
        else:
            email.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    return email


# Recovery and administration -----------------------------------------------------------------


def outbox_sweep() -> list[int]:
    """Recover rows whose attempt died, and find rows the broker lost. Returns ids to enqueue."""
    now = timezone.now()
    expired = OutboxMessage.objects.filter(status=S.SENDING, lease_expires_at__lt=now)
    expired.filter(handed_at__isnull=False).update(
        status=S.UNCERTAIN,
        lease_expires_at=None,
        last_error="Delivery unknown: the worker stopped while handing the message to the SMTP server. "
        "It is not resent automatically; retry it if the recipient did not get it.",
    )
    stale = list(expired.filter(handed_at__isnull=True).values_list("pk", flat=True)[:1000])
    # The conditions again in the UPDATE: an attempt that stamped handed_at meanwhile is not requeued.
    expired.filter(pk__in=stale, handed_at__isnull=True).update(
        status=S.QUEUED,
        next_attempt_at=now,
        lease_expires_at=None,
        last_error="The worker stopped before sending; retrying.",
    )
    grace = timedelta(seconds=conf.get("NOTIFICATIONS_SWEEP_GRACE_SECONDS"))
    overdue = OutboxMessage.objects.filter(status=S.QUEUED, next_attempt_at__lte=now - grace)
    return sorted({*stale, *overdue.values_list("pk", flat=True)[:1000]})


def outbox_retry(*, outbox_ids: list[int]) -> list[int]:
    """An administrator's retry of failed, uncertain or stuck rows: queued again now, with a fresh
    attempt budget. A sent or sending row is left alone. Returns the ids queued."""
    from .services import enqueue_on_commit

    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update().filter(
                pk__in=outbox_ids, status__in=[S.FAILED, S.UNCERTAIN, S.QUEUED]
            )
        )
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = S.QUEUED, 0, timezone.now()
            row.lease_owner, row.lease_expires_at, row.handed_at = "", None, None
            row.save()
        ids = [row.pk for row in rows]
        enqueue_on_commit(ids)
    return ids
