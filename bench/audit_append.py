"""Benchmark 2: audit appends per second with concurrent writers, each append its own transaction."""

import threading
import time

from django.db import connection, connections, transaction

from bench.stats import median, percentile
from ccb import audit
from ccb.models import AuditEvent

TARGET = 500  # appends/s
BASELINE_TABLE = "bench_append_baseline"


def clear_audit_table():
    """The audit table refuses DELETE/TRUNCATE through triggers; a replica-role session skips them."""
    table = AuditEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(f"TRUNCATE {table}")


def _ccb_append(thread_no, run_no, i):
    with transaction.atomic():
        audit.record(actor=None, action="bench.append", data={"thread": thread_no, "run": run_no, "i": i})


def _baseline_append(thread_no, run_no, i):
    # The same transaction shape without the chain: no lock, no head read, no hash. One INSERT, one commit.
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {BASELINE_TABLE} (at, data) VALUES (now(), %s)",
            [f'{{"i":{i},"run":{run_no},"thread":{thread_no}}}'],
        )


def _run_threads(fn, threads, per_thread, run_no):
    """Start ``threads`` writers behind a barrier; return (seconds, per-append latencies, errors)."""
    barrier = threading.Barrier(threads + 1)
    latencies = [[] for _ in range(threads)]
    errors = []

    def worker(t):
        try:
            connection.ensure_connection()  # a connection of this thread's own, opened before the clock starts
            barrier.wait()
            lat = latencies[t]
            for i in range(per_thread):
                t0 = time.perf_counter()
                fn(t, run_no, i)
                lat.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in pool:
        th.join()
    return time.perf_counter() - t0, [x for lat in latencies for x in lat], errors


def run(args):
    threads, per, runs = args.threads, args.appends, args.runs
    total = threads * per
    print()
    print(
        f"[2] audit appends: {threads} writer threads x {per} appends, each in its own transaction.atomic() "
        f"(median of {runs} runs)"
    )
    clear_audit_table()
    with connection.cursor() as cur:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} "
            "(id bigserial PRIMARY KEY, at timestamptz NOT NULL, data text NOT NULL)"
        )
        cur.execute(f"TRUNCATE {BASELINE_TABLE}")
    # warm-up: a few appends so the first run does not pay for connection set-up and plan caching
    _run_threads(_ccb_append, threads, 5, -1)
    _run_threads(_baseline_append, threads, 5, -1)

    rates = {"ccb": [], "baseline": []}
    lats = {"ccb": [], "baseline": []}
    for r in range(runs):
        # Alternate ccb and baseline runs so machine noise spreads over both.
        for name, fn in (("ccb", _ccb_append), ("baseline", _baseline_append)):
            secs, lat, errors = _run_threads(fn, threads, per, r)
            if errors:
                raise SystemExit(f"bench: {name} append run {r} failed: {errors[:3]}")
            rates[name].append(total / secs)
            lats[name].extend(lat)
            print(f"    run {r + 1}: {name:8s} {total:,} appends in {secs:6.2f}s = {total / secs:8.0f} appends/s")
    single_secs, _, errors = _run_threads(_ccb_append, 1, per, runs)
    if errors:
        raise SystemExit(f"bench: single-writer run failed: {errors[:3]}")

    ccb_rate, base_rate = median(rates["ccb"]), median(rates["baseline"])
    print(
        f"    ccb audit.record  : median {ccb_rate:8.0f} appends/s  (per-append latency p50 "
        f"{percentile(lats['ccb'], 50) * 1000:.2f}ms p95 {percentile(lats['ccb'], 95) * 1000:.2f}ms)"
    )
    print(
        f"    baseline INSERT   : median {base_rate:8.0f} appends/s  (per-append latency p50 "
        f"{percentile(lats['baseline'], 50) * 1000:.2f}ms p95 {percentile(lats['baseline'], 95) * 1000:.2f}ms)"
        f"  [same threads/transactions, plain table, no lock/head read/hash]"
    )
    print(f"    ccb single writer : {per / single_secs:8.0f} appends/s  (1 thread x {per})")
    print(f"    ratio ccb/baseline throughput {ccb_rate / base_rate:.2f}x")

    expected = (runs * threads * per) + threads * 5 + per
    t0 = time.perf_counter()
    result = audit.verify()
    secs = time.perf_counter() - t0
    intact = result.ok and result.checked == expected
    print(
        f"    audit.verify(): ok={result.ok} checked={result.checked:,} (expected {expected:,}) "
        f"head_seq={result.head_seq} in {secs:.2f}s -> chain {'INTACT' if intact else 'BROKEN: ' + result.reason}"
    )
    ok = ccb_rate >= TARGET and intact
    print(f"    target >= {TARGET} appends/s: {'PASS' if ccb_rate >= TARGET else 'MISS'}")
    return (
        f"{'PASS' if ok else 'MISS'} audit appends: {ccb_rate:.0f}/s with {threads} writers "
        f"(target >= {TARGET}/s), baseline {base_rate:.0f}/s; "
        f"chain {'intact' if intact else 'BROKEN'} ({result.checked:,} events)"
    )
