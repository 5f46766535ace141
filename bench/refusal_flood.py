"""Benchmark: other people's votes while one person's refused requests flood in.

Three phases, each casting the same number of votes through ccb.services.vote_cast (each vote an
audit append under the chain's lock), one after another on fresh changes:
  quiet       nobody else writes;
  coalesced   a thread records refusals as ccb does (record_refusal: the first of a window on the
              chain, repeats counted off the chain's lock);
  per-event   the same thread appends one chain event per refusal, as ccb did before coalescing.
Prints vote latency medians and p95 per phase, their ratio to the quiet phase measured in the same run,
and how many chain events each flood added.
"""

import threading
import time

from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.utils import timezone

from bench.stats import median, ms, percentile
from ccb import audit, services
from ccb.choices import AuditAction, BoardRole, Status
from ccb.exceptions import PolicyViolation
from ccb.models import AuditEvent, Board, ChangeRequest, ChangeRevision, RefusalWindow
from ccb.services.base import record_refusal

User = get_user_model()


def _setup(votes_per_phase: int, phases: int) -> tuple[User, User, list[int]]:
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    voter, _ = User.objects.get_or_create(username="bench-voter")
    flooder, _ = User.objects.get_or_create(username="bench-flooder")
    requester, _ = User.objects.get_or_create(username="bench-requester")
    board = Board.objects.filter(slug="bench-refusals").first() or services.board_save(
        actor=admin, data={"name": "Bench refusals", "slug": "bench-refusals", "min_approvals": 5}
    )
    # Six members and five approvals needed: an abstention leaves the quorum within reach, so no vote decides.
    for n in range(5):
        other, _ = User.objects.get_or_create(username=f"bench-member-{n}")
        services.board_role_grant(actor=admin, board=board, user=other, role=BoardRole.MEMBER)
    services.board_role_grant(actor=admin, board=board, user=voter, role=BoardRole.MEMBER)
    ids = []
    with transaction.atomic():
        for i in range(votes_per_phase * phases):
            change = ChangeRequest.objects.create(
                board=board, requester=requester, title=f"bench refusal {i}", status=Status.IN_REVIEW
            )
            revision = ChangeRevision.objects.create(
                change=change, number=1, content={"i": i}, content_hash=f"{i:064x}", created_by=requester
            )
            ChangeRequest.objects.filter(pk=change.pk).update(current_revision=revision, submitted_at=timezone.now())
            ids.append(change.pk)
    return voter, flooder, ids


def _flood(kind: str, flooder, count: int, done: list) -> None:
    try:
        for i in range(count):
            exc = PolicyViolation("auditors_only", "Only auditors read the audit trail.", actor=flooder)
            if kind == "coalesced":
                record_refusal(exc, path="/api/v1/audit/")
            else:
                with transaction.atomic():
                    audit.record(
                        actor=flooder,
                        action=AuditAction.POLICY_REFUSED,
                        data={"rule": exc.rule, "message": exc.message, "path": "/api/v1/audit/", "i": i},
                    )
        done.append(time.perf_counter())
    finally:
        connections.close_all()


def _phase(kind: str, voter, flooder, change_ids: list[int], flood: int) -> dict:
    events_before = AuditEvent.objects.count()
    done: list[float] = []
    thread = None
    t0 = time.perf_counter()
    if kind != "quiet":
        thread = threading.Thread(target=_flood, args=(kind, flooder, flood, done))
        thread.start()
    latencies = []
    for change_id in change_ids:
        s = time.perf_counter()
        services.vote_cast(change_id=change_id, voter=voter, decision="abstain")
        latencies.append(time.perf_counter() - s)
    if thread is not None:
        thread.join()
    flood_secs = (done[0] - t0) if done else 0.0
    votes = len(change_ids)
    return {"lat": latencies, "events": AuditEvent.objects.count() - events_before - votes, "flood_secs": flood_secs}


def run(args) -> str:
    votes = getattr(args, "votes", None) or (40 if args.quick else 200)
    flood = 1000
    print()
    print(f"[4] votes while one person floods refused requests: {votes} votes per phase, {flood} refusals per flood")
    RefusalWindow.objects.all().delete()
    voter, flooder, ids = _setup(votes, 3)
    results = {}
    for n, kind in enumerate(("quiet", "coalesced", "per-event")):
        results[kind] = _phase(kind, voter, flooder, ids[n * votes : (n + 1) * votes], flood)
    quiet = median(results["quiet"]["lat"])
    for kind, r in results.items():
        p50, p95 = median(r["lat"]), percentile(r["lat"], 95)
        extra = "" if kind == "quiet" else f"  flood {r['flood_secs']:5.2f}s, {r['events']:5d} chain events"
        print(f"    {kind:10s} vote p50 {ms(p50)}  p95 {ms(p95)}  p50 ratio to quiet {p50 / quiet:5.2f}x{extra}")
    coalesced = median(results["coalesced"]["lat"]) / quiet
    per_event = median(results["per-event"]["lat"]) / quiet
    return (
        f"refusal flood: vote p50 {coalesced:.2f}x quiet with coalescing ({results['coalesced']['events']} chain "
        f"events for {flood} refusals) vs {per_event:.2f}x with one event each"
    )
