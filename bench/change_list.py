"""Benchmark 1: GET /api/v1/changes/ over a large table, against a bare DRF ListAPIView baseline."""

import datetime as dt
import gc
import json
import random
import time

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import JSONField
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bench.stats import median, percentile
from ccb import services
from ccb.choices import BoardRole, ChangeType, Environment, RiskLevel, Status
from ccb.models import Board, ChangeRequest, Service

User = get_user_model()

N_BOARDS = 4
SERVICES_PER_BOARD = 5
USERS_PER_BOARD = 8
VISIBLE_SLUG = "bench-board-0"
MEMBER = "bench-member"
TARGET_RATIO = 1.5

STATUS_WEIGHTS = {
    Status.DRAFT: 10,
    Status.SUBMITTED: 6,
    Status.IN_REVIEW: 8,
    Status.APPROVED: 6,
    Status.APPROVED_WITH_CONDITIONS: 3,
    Status.REJECTED: 4,
    Status.WITHDRAWN: 4,
    Status.SCHEDULED: 5,
    Status.IMPLEMENTING: 2,
    Status.COMPLETED: 10,
    Status.ROLLED_BACK: 1,
    Status.FAILED: 1,
    Status.CLOSED: 40,
}
UNSUBMITTED = {Status.DRAFT}
PLANNED = {Status.SCHEDULED, Status.IMPLEMENTING, Status.COMPLETED, Status.ROLLED_BACK, Status.FAILED, Status.CLOSED}

ENDPOINTS = [
    ("ccb  /api/v1/changes/", "/api/v1/changes/"),
    ("bare /bench/bare-changes/", "/bench/bare-changes/"),
    ("ccb  ?status=in_review&ordering=-created_at", "/api/v1/changes/?status=in_review&ordering=-created_at"),
    ("bare ?status=in_review&ordering=-created_at", "/bench/bare-changes/?status=in_review&ordering=-created_at"),
]


# --- fixtures through ccb.services (as tests/conftest.py does) --------------------------------


def _user(username, **extra):
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com", **extra}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def setup_people_and_boards():
    admin = _user("bench-admin", is_staff=True, is_superuser=True)
    member = _user(MEMBER)
    boards, svcs, staff = [], {}, {}
    for b in range(N_BOARDS):
        slug = f"bench-board-{b}"
        board = Board.objects.filter(slug=slug).first() or services.board_save(
            actor=admin,
            data={"name": f"Bench board {b}", "slug": slug, "min_approvals": 2, "chair_required_from_risk": "high"},
        )
        boards.append(board)
        people = [_user(f"bench-b{b}-u{u}") for u in range(USERS_PER_BOARD)]
        staff[board.pk] = people
        roles = [BoardRole.CHAIR, BoardRole.IMPLEMENTER, BoardRole.VERIFIER, BoardRole.AUDITOR]
        for u, person in enumerate(people):
            services.board_role_grant(
                actor=admin, board=board, user=person, role=roles[u] if u < len(roles) else BoardRole.MEMBER
            )
        svcs[board.pk] = []
        for s in range(SERVICES_PER_BOARD):
            sslug = f"bench-svc-{b}-{s}"
            svc = Service.objects.filter(slug=sslug).first() or services.service_save(
                actor=admin,
                data={"name": f"Bench service {b}.{s}", "slug": sslug, "board": board, "criticality": "tier2"},
            )
            svcs[board.pk].append(svc.pk)
    # The measured user: a plain member of board 0 only (not staff, not superuser).
    services.board_role_grant(actor=admin, board=boards[0], user=member, role=BoardRole.MEMBER)
    return admin, member, boards, svcs, staff


# --- bulk load with COPY ----------------------------------------------------------------------


def _default_row():
    fields = [f for f in ChangeRequest._meta.concrete_fields]
    defaults = {}
    for f in fields:
        value = f.get_default()
        if isinstance(f, JSONField):
            value = json.dumps(value)
        defaults[f.attname] = value
    return fields, defaults


def load_changes(n, member, boards, svcs, staff):
    rng = random.Random(42)
    fields, defaults = _default_row()
    columns = [f.column for f in fields]
    attnames = [f.attname for f in fields]
    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    now = timezone.now()
    start = now - dt.timedelta(days=730)
    step = dt.timedelta(days=730) / n
    summary = "Bench change. " * 12
    cr_table = ChangeRequest._meta.db_table
    m2m_table = ChangeRequest.services.through._meta.db_table
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cur = django_cursor.cursor  # the psycopg cursor
        cur.execute(f"TRUNCATE {m2m_table}, {cr_table} RESTART IDENTITY CASCADE")
        board_ids = [b.pk for b in boards]
        m2m_rows = []
        copy_sql = f"COPY {cr_table} ({', '.join(columns)}) FROM STDIN"
        with cur.copy(copy_sql) as copy:
            for i in range(1, n + 1):
                board_id = rng.choice(board_ids)
                people = staff[board_id]
                status = rng.choices(statuses, weights)[0]
                created = start + step * i + dt.timedelta(seconds=rng.randint(0, 59))
                row = dict(defaults)
                requester = rng.choice(people).pk
                implementer = rng.choice(people).pk if rng.random() < 0.7 else None
                if board_id != board_ids[0]:
                    r = rng.random()
                    if r < 0.005:
                        requester = member.pk  # visible to the member through "requested by me"
                    elif r < 0.01:
                        implementer = member.pk  # visible through "implemented by me"
                row.update(
                    id=i,
                    board_id=board_id,
                    status=status,
                    requester_id=requester,
                    implementer_id=implementer,
                    change_type=ChangeType.EMERGENCY if rng.random() < 0.05 else ChangeType.NORMAL,
                    title=f"Bench change {i}: rotate {rng.choice(['certs', 'keys', 'nodes', 'configs'])}",
                    summary=summary,
                    justification="Keeps the lights on.",
                    environment=rng.choice(Environment.values),
                    risk_level=rng.choice(RiskLevel.values),
                    created_at=created,
                    updated_at=min(now, created + dt.timedelta(hours=rng.randint(0, 120))),
                    submitted_at=None if status in UNSUBMITTED else created + dt.timedelta(hours=1),
                )
                if status in PLANNED:
                    row["planned_start"] = created + dt.timedelta(days=3)
                    row["planned_end"] = created + dt.timedelta(days=3, hours=2)
                copy.write_row([row[a] for a in attnames])
                for svc in rng.sample(svcs[board_id], rng.randint(1, 3)):
                    m2m_rows.append((i, svc))
        with cur.copy(f"COPY {m2m_table} (changerequest_id, service_id) FROM STDIN") as copy:
            for r in m2m_rows:
                copy.write_row(r)
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{cr_table}', 'id'), %s)", [n])
    with connection.cursor() as c:
        c.execute(f"VACUUM ANALYZE {cr_table}")
        c.execute(f"VACUUM ANALYZE {m2m_table}")
    return time.perf_counter() - t0, len(m2m_rows)


def ensure_data(args, member, boards, svcs, staff):
    n = args.changes
    have = ChangeRequest.objects.count()
    bench_boards = ChangeRequest.objects.filter(board__in=boards).count()
    if not args.fresh and have == n and bench_boards == n:
        print(f"reusing {n:,} change requests already loaded (--fresh reloads)")
        return
    secs, m2m = load_changes(n, member, boards, svcs, staff)
    print(f"loaded {n:,} change requests + {m2m:,} service links with COPY in {secs:.1f}s")


# --- measurement ------------------------------------------------------------------------------


def _check(client, url):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    if resp.status_code != 200:
        raise SystemExit(f"bench: GET {url} -> {resp.status_code}: {resp.content[:300]!r}")
    body = resp.json()
    return body["count"], len(body["results"]), len(ctx.captured_queries), ctx.captured_queries


def run(args):
    print()
    print(f"[1] change list: GET first page (50) over {args.changes:,} change requests, as a board member")
    _, member, boards, svcs, staff = setup_people_and_boards()
    ensure_data(args, member, boards, svcs, staff)
    token, _ = Token.objects.get_or_create(user=member)
    assert not member.is_superuser and not member.is_staff
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_HOST="127.0.0.1")

    for label, url in ENDPOINTS:
        count, page, nq, _ = _check(client, url)
        print(f"    {label:46s} count={count:>7,} page={page} queries/request={nq}")

    for _ in range(args.warmup):
        for _label, url in ENDPOINTS:
            client.get(url)

    # Endpoints run in a shuffled order each round, so machine drift and Python's garbage-collector pauses
    # land on all of them alike. gc.freeze() after warm-up (as pre-forking servers do) keeps the long-lived
    # Django objects out of gen-2 collections; the pauses that remain are counted per endpoint.
    samples = {url: [] for _label, url in ENDPOINTS}
    gc_pauses = {url: 0 for _label, url in ENDPOINTS}
    current = [None]

    def on_gc(phase, info):
        if phase == "stop" and info["generation"] == 2 and current[0] is not None:
            gc_pauses[current[0]] += 1

    gc.collect()
    gc.freeze()
    gc.callbacks.append(on_gc)
    order = [url for _label, url in ENDPOINTS]
    shuffle = random.Random(7).shuffle
    try:
        for _ in range(args.requests):
            shuffle(order)
            for url in order:
                current[0] = url
                t0 = time.perf_counter()
                resp = client.get(url)
                samples[url].append(time.perf_counter() - t0)
                current[0] = None
                assert resp.status_code == 200
    finally:
        gc.callbacks.remove(on_gc)
        gc.unfreeze()

    print(f"    {args.requests} requests each after {args.warmup} warm-up each, through django.test.Client")
    print(f"    {'endpoint':46s} {'p50':>9s} {'p95':>9s} {'mean':>9s}  gen-2 GC pauses inside")
    stats = {}
    for label, url in ENDPOINTS:
        vals = samples[url]
        stats[url] = (median(vals), percentile(vals, 95))
        print(
            f"    {label:46s} {median(vals) * 1000:7.2f}ms {percentile(vals, 95) * 1000:7.2f}ms "
            f"{sum(vals) / len(vals) * 1000:7.2f}ms  {gc_pauses[url]}"
        )
    verdicts = []
    for (clabel, curl), (_blabel, burl) in [(ENDPOINTS[0], ENDPOINTS[1]), (ENDPOINTS[2], ENDPOINTS[3])]:
        r50 = stats[curl][0] / stats[burl][0]
        r95 = stats[curl][1] / stats[burl][1]
        ok = r50 <= TARGET_RATIO
        name = clabel.replace("ccb  ", "")
        print(
            f"    ratio ccb/bare {name:34s} p50 {r50:5.2f}x  p95 {r95:5.2f}x  "
            f"(target <= {TARGET_RATIO}x p50: {'PASS' if ok else 'MISS'})"
        )
        verdicts.append(
            f"{'PASS' if ok else 'MISS'} change list {name}: p50 {stats[curl][0] * 1000:.1f}ms "
            f"vs bare {stats[burl][0] * 1000:.1f}ms = {r50:.2f}x (target <= {TARGET_RATIO}x)"
        )
    return "; ".join(verdicts) if len(verdicts) == 1 else "\n  ".join(verdicts)
