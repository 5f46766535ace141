"""ccb benchmarks: change-list latency, audit append throughput, audit verify speed.

    .venv/bin/python bench/run.py            # full run (~100k changes, 8x1000 appends, 1M events)
    .venv/bin/python bench/run.py --quick    # everything scaled down, for a smoke run

DATABASE_URL must point at PostgreSQL; it defaults to postgres://postgres@127.0.0.1:5432/ccb_bench, which
is created and migrated if missing. The benchmarks truncate the audit table and replace the change data,
so the database name must contain "bench" (override with --allow-any-database).
"""

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ccb_bench"
warnings.filterwarnings("ignore", message="No directory at")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="scale every size down (10k changes, 8x150 appends, 100k events)"
    )
    p.add_argument(
        "--only",
        action="append",
        choices=["list", "append", "verify", "refusals"],
        help="run only these parts (repeatable)",
    )
    p.add_argument("--changes", type=int, help="change requests to load (default 100000, quick 10000)")
    p.add_argument("--requests", type=int, help="measured requests per endpoint (default 100, quick 20)")
    p.add_argument("--warmup", type=int, help="warm-up requests per endpoint (default 10, quick 5)")
    p.add_argument("--threads", type=int, default=8, help="concurrent audit writers (default 8)")
    p.add_argument("--appends", type=int, help="appends per writer thread per run (default 1000, quick 150)")
    p.add_argument("--runs", type=int, default=3, help="repetitions for medians of throughput figures (default 3)")
    p.add_argument("--events", type=int, help="audit events to load for verify (default 1000000, quick 100000)")
    p.add_argument("--fresh", action="store_true", help="reload the change data even if it is already there")
    p.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile audit.verify(): auto = only when it misses its target",
    )
    p.add_argument(
        "--allow-any-database",
        action="store_true",
        help="allow a database whose name does not contain 'bench' (its data WILL be replaced)",
    )
    args = p.parse_args(argv)
    q = args.quick
    args.changes = args.changes or (10_000 if q else 100_000)
    args.requests = args.requests or (20 if q else 100)
    args.warmup = args.warmup if args.warmup is not None else (5 if q else 10)
    args.appends = args.appends or (150 if q else 1000)
    args.events = args.events or (100_000 if q else 1_000_000)
    args.only = set(args.only or ["list", "append", "verify", "refusals"])
    return args


def ensure_database(url: str, allow_any: bool) -> None:
    """Refuse non-PostgreSQL URLs; create the database if it is missing."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        sys.exit(f"bench: DATABASE_URL must point at PostgreSQL, not {parsed.scheme!r}")
    name = parsed.path.lstrip("/")
    if name in {"test", "test_test"}:
        sys.exit("bench: refusing the test suite's databases (test, test_test)")
    if "bench" not in name and not allow_any:
        sys.exit(
            f"bench: database {name!r} does not look like a bench database; the benchmarks replace its "
            "change and audit data. Use a name containing 'bench' or pass --allow-any-database."
        )
    import psycopg
    from psycopg import sql

    admin = psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def migrate_if_needed() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(f"migrated in {time.perf_counter() - t0:.1f}s")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ccb.settings"
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    url = os.environ["DATABASE_URL"]
    ensure_database(url, args.allow_any_database)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.ROOT_URLCONF = "bench.urls"
    migrate_if_needed()

    with connection.cursor() as cur:
        cur.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_setting('shared_buffers')"
        )
        pg_version, fsync, sync_commit, shared_buffers = cur.fetchone()
    print("=" * 78)
    print(
        f"ccb benchmarks{' (--quick)' if args.quick else ''}: python {platform.python_version()}, "
        f"django {django.get_version()}, {os.cpu_count()} CPUs"
    )
    print(
        f"PostgreSQL {pg_version} at {connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        f"/{connection.settings_dict['NAME']} (fsync={fsync}, synchronous_commit={sync_commit}, "
        f"shared_buffers={shared_buffers})"
    )
    print("=" * 78)

    t_start = time.perf_counter()
    verdicts = []
    if "list" in args.only:
        from bench import change_list

        verdicts.append(change_list.run(args))
    if "append" in args.only:
        from bench import audit_append

        verdicts.append(audit_append.run(args))
    if "verify" in args.only:
        from bench import audit_verify

        verdicts.append(audit_verify.run(args))
    if "refusals" in args.only:
        from bench import refusal_flood

        verdicts.append(refusal_flood.run(args))

    print()
    print("=" * 78)
    print("summary")
    for line in verdicts:
        print(f"  {line}")
    print(f"total wall time {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
