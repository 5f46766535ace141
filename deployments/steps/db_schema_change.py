"""db_schema_change: run an up script on a target PostgreSQL once, and its down script on rollback.

The target is named by an environment variable holding its DSN (``dsn_env``), so no password is ever
in a runbook. The starting schema is checked against ``expect_digest``: a SHA-256 that ccb computes
from the catalog over the listed schemas (tables, views and their definitions, columns in order with
type, nullability and default, constraints, indexes, sequences, enum types, functions, triggers; not
data, grants or comments). The plan shows the current digest, so a runbook author copies it from there.

``up_sql`` runs in one transaction together with a marker row keyed by the step's idempotency key in a
ccb-owned table of the target (``ccb_deploy.schema_changes``), under an advisory lock: a repeated call
finds the marker and applies nothing; a failure leaves nothing behind. Rollback runs ``down_sql`` the
same way, refuses to commit unless the schema's digest is again the one recorded before ``up_sql``,
and removes the marker.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from pydantic import Field, field_validator

from .base import Outcome, Params, Plan, StepContext, StepType, register

MARKER_SCHEMA = "ccb_deploy"
MARKER_TABLE = f"{MARKER_SCHEMA}.schema_changes"
LOCK_KEY = 0x0CCB5C4E  # one advisory lock for every ccb schema change on a target


class DbSchemaChangeParams(Params):
    dsn_env: str = Field(description="The environment variable holding the target's DSN (never the DSN itself).")
    up_sql: str = Field(min_length=1, max_length=200_000, description="The change, run in one transaction.")
    down_sql: str = Field(
        min_length=1, max_length=200_000, description="What undoes it: must bring the schema back to its digest."
    )
    expect_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The starting schema's digest, as the plan shows it; else no change."
    )
    expect_after_digest: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="If given, the digest the schema must have after up_sql."
    )
    schemas: list[str] = Field(
        default_factory=lambda: ["public"], min_length=1, max_length=20, description="The schemas the digest covers."
    )
    lock_timeout_seconds: int = Field(10, ge=1, le=600, description="How long a statement may wait for a lock.")
    statement_timeout_seconds: int = Field(900, ge=1, le=86_400, description="How long one statement may run.")
    plan_dry_run: bool = Field(
        False,
        description="Plan by running up_sql in a transaction that is always rolled back, to show what it "
        "changes (it takes the locks it needs for that moment).",
    )

    @field_validator("dsn_env")
    @classmethod
    def _a_variable_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", value):
            raise ValueError(
                "name the environment variable that holds the DSN (capitals, digits and _), never the DSN itself"
            )
        return value

    @field_validator("schemas")
    @classmethod
    def _not_ours(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z_][a-z0-9_$]{0,62}", name):
                raise ValueError(f"not a schema name: {name!r}")
            if name == MARKER_SCHEMA:
                raise ValueError(f"{MARKER_SCHEMA} is ccb's own schema")
        return value


class TargetUnavailable(RuntimeError):
    """The target database cannot be reached or is not configured."""


class _Abort(Exception):
    def __init__(self, outcome: Outcome):
        self.outcome = outcome


# --- the schema as ccb sees it --------------------------------------------------------------------------

_DESCRIBE = [
    (
        "relation",
        """select n.nspname || '.' || c.relname, c.relkind::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = any(%(s)s) and c.relkind in ('r','p','v','m','f','S')""",
    ),
    (
        "column",
        """select table_schema || '.' || table_name || '.' || column_name,
                  json_build_array(row_number() over (partition by table_schema, table_name order by ordinal_position),
                                   data_type, udt_name, character_maximum_length, numeric_precision, numeric_scale,
                                   is_nullable, column_default)::text
           from information_schema.columns where table_schema = any(%(s)s)""",
    ),
    (
        "constraint",
        """select n.nspname || '.' || coalesce(r.relname, '-') || '.' || c.conname, pg_get_constraintdef(c.oid)
           from pg_constraint c join pg_namespace n on n.oid = c.connamespace
           left join pg_class r on r.oid = c.conrelid where n.nspname = any(%(s)s)""",
    ),
    ("index", "select schemaname || '.' || indexname, indexdef from pg_indexes where schemaname = any(%(s)s)"),
    ("view", "select schemaname || '.' || viewname, definition from pg_views where schemaname = any(%(s)s)"),
    (
        "sequence",
        """select sequence_schema || '.' || sequence_name,
                  json_build_array(data_type, start_value, increment, minimum_value, maximum_value, cycle_option)::text
           from information_schema.sequences where sequence_schema = any(%(s)s)""",
    ),
    (
        "enum",
        """select n.nspname || '.' || t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)
           from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid
           where n.nspname = any(%(s)s) group by 1""",
    ),
    (
        "function",
        """select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                  md5(pg_get_functiondef(p.oid))
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = any(%(s)s) and p.prokind in ('f','p')""",
    ),
    (
        "trigger",
        """select n.nspname || '.' || c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
           from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
           where not t.tgisinternal and n.nspname = any(%(s)s)""",
    ),
]


def describe(conn: Any, schemas: list[str]) -> list[str]:
    """The schema as sorted lines, one per object: what the digest is taken over and diffs are made of."""
    # Definitions print names qualified or not by the search path: read them under a fixed one.
    path = conn.execute("select current_setting('search_path')").fetchone()[0]
    conn.execute("select set_config('search_path', 'pg_catalog', true)")
    lines = []
    for kind, sql in _DESCRIBE:
        for name, detail in conn.execute(sql, {"s": schemas}).fetchall():
            lines.append(f"{kind} {name}: {detail}")
    conn.execute("select set_config('search_path', %s, true)", (path,))
    return sorted(lines)


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _diff(before: list[str], after: list[str]) -> list[str]:
    gone, new = set(before) - set(after), set(after) - set(before)
    return [f"- {line}" for line in sorted(gone)] + [f"+ {line}" for line in sorted(new)]


def statements(sql: str) -> list[str]:
    """The script's statements, split on semicolons outside quotes, dollar quotes and comments (for display)."""
    out, current, i = [], [], 0
    pattern = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(\$[A-Za-z_]*\$).*?\1|;", re.S)
    for match in pattern.finditer(sql):
        if match.group(0) == ";":
            current.append(sql[i : match.start()])
            out.append("".join(current))
            current, i = [], match.end()
    out.append(sql[i:])
    cleaned = [re.sub(r"--[^\n]*|/\*.*?\*/", "", s, flags=re.S) for s in out]
    return [" ".join(s.split()) for s in cleaned if s.strip()]


# --- the step ---------------------------------------------------------------------------------------------


@register("db_schema_change")
class DbSchemaChange(StepType):
    params = DbSchemaChangeParams
    summary = "Change a PostgreSQL schema once, in one transaction, with a down script for the rollback."
    kind = "action"

    def planned_seconds(self, params: DbSchemaChangeParams) -> int:  # type: ignore[override]
        return min(params.statement_timeout_seconds, 300)

    def rollback_seconds(self, params: DbSchemaChangeParams) -> int:  # type: ignore[override]
        return min(params.statement_timeout_seconds, 300)

    def rollback_summary(self, params: DbSchemaChangeParams) -> str:  # type: ignore[override]
        return "Run the down script in one transaction; it commits only if the schema is exactly as before."

    def _connect(self, ctx: StepContext) -> Any:
        import psycopg

        dsn = os.environ.get(ctx.p.dsn_env)
        if not dsn:
            raise TargetUnavailable(f"the environment variable {ctx.p.dsn_env} (the target's DSN) is not set")
        try:
            return psycopg.connect(dsn, connect_timeout=10, application_name="ccb-deploy")
        except psycopg.OperationalError as exc:
            raise TargetUnavailable(f"cannot connect to the target named by {ctx.p.dsn_env}: {exc}") from exc

    def _prepare(self, ctx: StepContext, conn: Any) -> None:
        conn.execute(f"set local lock_timeout = '{int(ctx.p.lock_timeout_seconds)}s'")
        conn.execute(f"set local statement_timeout = '{int(ctx.p.statement_timeout_seconds)}s'")
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))

    def _marker(self, conn: Any, key: str) -> dict | None:
        if conn.execute("select to_regclass(%s)", (MARKER_TABLE,)).fetchone()[0] is None:
            return None
        row = conn.execute(
            f"select before_digest, after_digest, applied_at, before_schema from {MARKER_TABLE} where key = %s",  # noqa: S608
            (key,),
        ).fetchone()
        if row is None:
            return None
        return {"before": row[0], "after": row[1], "applied_at": row[2].isoformat(), "before_schema": row[3]}

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        with self._connect(ctx) as conn:
            with conn.transaction(force_rollback=True):
                if not p.plan_dry_run:
                    conn.execute("set transaction read only")
                conn.execute("set local lock_timeout = '2s'")
                current = describe(conn, p.schemas)
                marker = self._marker(conn, ctx.idempotency_key)
                changes = [f"statement: {s[:300]}" for s in statements(p.up_sql)]
                if p.plan_dry_run:
                    changes += self._dry_run(conn, p, current)
        now = digest(current)
        if now != p.expect_digest:
            changes.insert(
                0,
                f"THE TARGET IS NOT AS EXPECTED: its schema digest is {now}, the runbook expects "
                f"{p.expect_digest}; the step would refuse to run",
            )
        if marker:
            changes.insert(0, f"already applied at {marker['applied_at']}")
        return Plan(
            summary=f"Run the up script ({len(statements(p.up_sql))} statements) on the database in "
            f"${p.dsn_env}, schemas {', '.join(p.schemas)}.",
            before={"digest": now, "objects": len(current), "applied": bool(marker)},
            after={
                "expect_digest": p.expect_digest,
                "expect_after_digest": p.expect_after_digest,
                "up_sha256": hashlib.sha256(p.up_sql.encode()).hexdigest(),
                "down_sha256": hashlib.sha256(p.down_sql.encode()).hexdigest(),
            },
            changes=changes,
        )

    def _dry_run(self, conn: Any, p: DbSchemaChangeParams, current: list[str]) -> list[str]:
        import psycopg

        try:
            with conn.transaction():  # a savepoint: the outer transaction is rolled back anyway
                conn.execute(p.up_sql)
                after = describe(conn, p.schemas)
        except psycopg.Error as exc:
            return [f"THE DRY RUN FAILED: {_pg_error(exc)}"]
        return _diff(current, after) or ["(the up script changes no schema object)"]

    # --- execute -----------------------------------------------------------------------------------------

    def execute(self, ctx: StepContext) -> Outcome:
        import psycopg

        p = ctx.p
        try:
            with self._connect(ctx) as conn, conn.transaction():
                self._prepare(ctx, conn)
                marker = self._marker(conn, ctx.idempotency_key)
                if marker:
                    ctx.state.update(before_digest=marker["before"], after_digest=marker["after"])
                    return Outcome.done(
                        f"Already applied at {marker['applied_at']}.",
                        before_digest=marker["before"],
                        after_digest=marker["after"],
                    )
                before = describe(conn, p.schemas)
                if digest(before) != p.expect_digest:
                    raise _Abort(
                        Outcome.failed(
                            f"The target's schema is not the expected one (digest {digest(before)}, expected "
                            f"{p.expect_digest}); nothing was changed.",
                            digest=digest(before),
                        )
                    )
                conn.execute(p.up_sql)
                after = describe(conn, p.schemas)
                if p.expect_after_digest and digest(after) != p.expect_after_digest:
                    raise _Abort(
                        Outcome.failed(
                            f"After the up script the digest would be {digest(after)}, not {p.expect_after_digest}; "
                            "nothing was committed.",
                            changes=_diff(before, after),
                        )
                    )
                self._insert_marker(ctx, conn, before, digest(after))
        except _Abort as abort:
            ctx.log(abort.outcome.message)
            return abort.outcome
        except psycopg.Error as exc:
            message = f"The up script failed and was rolled back: {_pg_error(exc)}"
            ctx.log(message)
            return Outcome.failed(message, sqlstate=getattr(exc, "sqlstate", None))
        changes = _diff(before, after)
        ctx.state.update(before_digest=digest(before), after_digest=digest(after))
        ctx.log("Schema changed.", before=digest(before), after=digest(after), changes=changes)
        return Outcome.done(
            f"Schema changed: {len(changes)} object line(s).",
            before_digest=digest(before),
            after_digest=digest(after),
            changes=changes,
        )

    def _insert_marker(self, ctx: StepContext, conn: Any, before: list[str], after: str) -> None:
        conn.execute(f"create schema if not exists {MARKER_SCHEMA}")
        conn.execute(
            f"""create table if not exists {MARKER_TABLE} (
                key text primary key, applied_at timestamptz not null default now(),
                up_sha256 text not null, before_digest text not null, after_digest text not null,
                before_schema jsonb not null, labels jsonb not null default '{{}}')"""
        )
        conn.execute(
            f"insert into {MARKER_TABLE} (key, up_sha256, before_digest, after_digest, before_schema, labels) "  # noqa: S608
            "values (%s, %s, %s, %s, %s, %s)",
            (
                ctx.idempotency_key,
                hashlib.sha256(ctx.p.up_sql.encode()).hexdigest(),
                digest(before),
                after,
                json.dumps(before),
                json.dumps(ctx.labels),
            ),
        )

    # --- verify and rollback -----------------------------------------------------------------------------

    def verify(self, ctx: StepContext) -> Outcome:
        with self._connect(ctx) as conn, conn.transaction(force_rollback=True):
            marker = self._marker(conn, ctx.idempotency_key)
            now = digest(describe(conn, ctx.p.schemas))
        if marker is None:
            return Outcome.failed("The change is not applied (no marker row).")
        if now != marker["after"]:
            return Outcome.failed(f"The schema changed since: digest {now}, expected {marker['after']}.", digest=now)
        return Outcome.done(f"Schema as the change left it (digest {now}).", digest=now)

    def rollback(self, ctx: StepContext) -> Outcome:
        import psycopg

        p = ctx.p
        try:
            with self._connect(ctx) as conn, conn.transaction():
                self._prepare(ctx, conn)
                marker = self._marker(conn, ctx.idempotency_key)
                if marker is None:
                    return Outcome.done("Nothing to undo: the change is not applied.")
                current = describe(conn, p.schemas)
                conn.execute(p.down_sql)
                after = describe(conn, p.schemas)
                if digest(after) != marker["before"]:
                    raise _Abort(
                        Outcome.failed(
                            "The down script does not bring the schema back to what it was; nothing was committed.",
                            differs=_diff(marker["before_schema"], after),
                        )
                    )
                conn.execute(f"delete from {MARKER_TABLE} where key = %s", (ctx.idempotency_key,))  # noqa: S608
        except _Abort as abort:
            ctx.log(abort.outcome.message, **abort.outcome.evidence)
            return abort.outcome
        except psycopg.Error as exc:
            message = f"The down script failed and was rolled back: {_pg_error(exc)}"
            ctx.log(message)
            return Outcome.failed(message, sqlstate=getattr(exc, "sqlstate", None))
        ctx.log("Schema change undone.", digest=digest(after), changes=_diff(current, after))
        return Outcome.done(f"Schema back to digest {digest(after)}.", digest=digest(after))


def _pg_error(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    state = getattr(exc, "sqlstate", None)
    return f"{primary or exc} (SQLSTATE {state})" if state else str(primary or exc)
