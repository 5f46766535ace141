import logging

from celery import shared_task

from ccb import audit
from ccb.services.refusals import refusal_windows_digest

logger = logging.getLogger(__name__)


@shared_task(name="ccb.audit_verify", queue="exports")
def audit_verify_task() -> dict:
    """Walk the audit chain on a schedule and log loudly when a link is broken."""
    result = audit.verify()
    if result.ok:
        logger.info("audit chain intact: %s events, head %s", result.checked, result.head_hash)
    else:
        logger.error("audit chain broken at seq %s: %s", result.first_bad_seq, result.reason)
    return result.as_dict()


@shared_task(name="ccb.refusal_windows_digest")
def refusal_windows_digest_task() -> int:
    """Put the repeats counted in closed refusal windows on the chain (see ccb.services.refusals)."""
    return refusal_windows_digest()
