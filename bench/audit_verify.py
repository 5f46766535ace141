"""Benchmark 3: audit.verify() over a large chain loaded with COPY."""

import cProfile
import datetime as dt
import io
import pstats
import time

from django.db import connection, transaction

from bench.audit_append import clear_audit_table
from bench.stats import median
from ccb import audit
from ccb.choices import AuditAction
from ccb.models import AuditEvent

TARGET = 100_000  # events/s
COLUMNS = ["seq", "at", "actor_id", "actor_name", "action", "target_type", "target_id", "data", "prev_hash", "hash"]


def _events(n):
    """Yield n valid chained events as COPY rows, hashing with ccb.audit.compute_hash."""
    actions = list(AuditAction.values)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    prev = audit.GENESIS_HASH
    canonical_json, compute_hash = audit.canonical_json, audit.compute_hash
    for seq in range(1, n + 1):
        at = base + dt.timedelta(microseconds=seq * 1_237_011)
        if seq % 50 == 0:
            actor_id, actor_name = None, "system"
        else:
            actor_id = seq % 40 + 1
            actor_name = f"user{actor_id}" if seq % 97 else "zoë.o'brien"
        action = actions[seq % len(actions)]
        target_type, target_id = "ccb.changerequest", str(seq // 7 + 1)
        payload = {"seq_hint": seq, "from": "draft", "to": "submitted", "fields": ["title", "summary"]}
        if seq % 100 == 0:
            payload["note"] = "Übergabe an das Board — café ✓"
        data = canonical_json(payload)
        h = compute_hash(
            prev_hash=prev,
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=data,
        )
        yield (seq, at, actor_id, actor_name, action, target_type, target_id, data, prev, h)
        prev = h


def load_events(n):
    table = AuditEvent._meta.db_table
    clear_audit_table()
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SET LOCAL synchronous_commit = off")
        with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in _events(n):
                copy.write_row(row)
    t_copy = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {table}")
    return t_copy, time.perf_counter() - t0


def fetch_only(batch_size=20_000):
    """verify()'s reads alone (same SQL, same batches, no hashing): the floor set by PostgreSQL + psycopg."""
    table = AuditEvent._meta.db_table
    n = 0
    with transaction.atomic(), connection.cursor() as cur:
        after = 0
        while True:
            columns = audit._VERIFY_COLUMNS.format(at=audit._PG_AT_TEXT)
            cur.execute(
                f"SELECT {columns} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                [after, batch_size],
            )
            rows = cur.fetchall()
            if not rows:
                break
            n += len(rows)
            after = rows[-1][0]
    return n


def run(args):
    n, runs = args.events, args.runs
    print()
    print(f"[3] audit.verify() over {n:,} chained events (median of {runs})")
    t_copy, t_total = load_events(n)
    print(
        f"    loaded {n:,} events (hashed with ccb.audit.compute_hash, COPY) in {t_copy:.1f}s "
        f"(+ VACUUM ANALYZE: {t_total:.1f}s)"
    )

    times = []
    for r in range(runs):
        t0 = time.perf_counter()
        result = audit.verify()
        secs = time.perf_counter() - t0
        if not (result.ok and result.checked == n):
            raise SystemExit(f"bench: verify failed on a valid chain: {result.as_dict()}")
        times.append(secs)
        print(
            f"    run {r + 1}: {secs:6.2f}s = {n / secs:9,.0f} events/s  (ok={result.ok}, checked={result.checked:,})"
        )
    rate = n / median(times)

    fetch_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fetch_only()
        fetch_times.append(time.perf_counter() - t0)
    fetch_rate = n / median(fetch_times)
    print(f"    audit.verify()            : median {median(times):6.2f}s = {rate:9,.0f} events/s")
    print(
        f"    baseline: same SELECTs only: median {median(fetch_times):6.2f}s = {fetch_rate:9,.0f} events/s "
        f"(PostgreSQL + psycopg row decoding, no hashing)"
    )
    print(
        f"    ratio verify/fetch-only time {median(times) / median(fetch_times):.2f}x; "
        f"reads are {median(fetch_times) / median(times):.0%} of verify's time"
    )
    ok = rate >= TARGET
    print(f"    target >= {TARGET:,} events/s: {'PASS' if ok else 'MISS'}")

    tamper_check(n)
    if args.profile == "always" or (args.profile == "auto" and not ok):
        profile_verify()
    return (
        f"{'PASS' if ok else 'MISS'} audit verify: {rate:,.0f} events/s over {n:,} events "
        f"(target >= {TARGET:,}/s), fetch-only {fetch_rate:,.0f}/s"
    )


class _Rollback(Exception):
    pass


def tamper_check(n):
    """Alter one event inside a transaction that is rolled back: verify() must name exactly its seq."""
    bad_seq = max(1, n // 2)
    table = AuditEvent._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")  # lets this UPDATE past the trigger
            cur.execute(f"UPDATE {table} SET data = %s WHERE seq = %s", ['{"tampered":true}', bad_seq])
            bad = audit.verify().as_dict()
            raise _Rollback
    except _Rollback:
        pass
    print(
        f"    tamper check (seq {bad_seq:,} altered, rolled back): verify -> ok={bad['ok']} "
        f"first_bad_seq={bad['first_bad_seq']} ({bad['reason']})"
    )
    if bad["ok"] or bad["first_bad_seq"] != bad_seq:
        raise SystemExit(f"bench: audit.verify() missed the altered event at seq {bad_seq}: {bad}")


def _cum(stats, match):
    """Summed (tottime, cumtime) of the profiled functions whose (file, name) match."""
    tt = ct = 0.0
    for (filename, _line, name), (_cc, _nc, t, c, _callers) in stats.stats.items():
        if match(filename, name):
            tt, ct = tt + t, ct + c
    return tt, ct


def profile_verify():
    print("    cProfile of one audit.verify() (profiling inflates Python call costs; read the shares):")
    prof = cProfile.Profile()
    prof.enable()
    audit.verify()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = _cum(stats, lambda f, n: f.endswith("ccb/audit.py") and n == "verify")[1]
    buckets = [
        (
            "reading rows: cursor.fetchall() (incl. timestamptz parsing below)",
            lambda f, n: n == "fetchall" and "psycopg" in f,
            1,
        ),
        (
            "  of which Django's Python timestamptz loader (psycopg_any.BaseTzLoader.load)",
            lambda f, n: n == "load" and f.endswith("psycopg_any.py"),
            1,
        ),
        (
            "_body(): building the canonical text (incl. json.dumps + _format_at)",
            lambda f, n: n == "_body" and f.endswith("ccb/audit.py"),
            1,
        ),
        ("  of which json.dumps() x5 per event", lambda f, n: n == "dumps" and f.endswith("json/__init__.py"), 1),
        ("  of which _format_at(): astimezone + strftime", lambda f, n: n == "_format_at", 1),
        (
            "sha256 + str.encode + hexdigest",
            lambda f, n: "sha256" in n or "hexdigest" in n or n == "<method 'encode' of 'str' objects>",
            0,
        ),
        ("verify() loop body itself (tottime)", lambda f, n: f.endswith("ccb/audit.py") and n == "verify", 0),
    ]
    for label, match, use_cum in buckets:
        tt, ct = _cum(stats, match)
        value = ct if use_cum else tt
        print(f"      {label:78s} {value:6.2f}s {value / total:5.0%}")
    stats.sort_stats("tottime").print_stats(12)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("      top functions by own time:")
    for line in lines[start:]:
        if line.strip():
            print(
                "      "
                + line.replace("/work/main/.venv/lib/python3.11/site-packages/", "")
                .replace("/work/main/", "")
                .replace("/root/.pyenv/versions/3.11.7/lib/python3.11/", "")
                .rstrip()
            )
