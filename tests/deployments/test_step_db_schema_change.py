"""db_schema_change against a real PostgreSQL: a scratch target database of the test's own, created and
dropped here, named to the step by an environment variable holding its DSN."""

import os
import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from deployments.steps import Result
from deployments.steps.db_schema_change import MARKER_TABLE, TargetUnavailable, describe, digest

from .driver import Driver

pytestmark = pytest.mark.postgres

SCHEMA = """
create table orders (id serial primary key, customer text not null, total numeric(10, 2) default 0);
create index orders_customer on orders (customer);
create view big_orders as select id, customer from orders where total > 100;
create table audit_log (entry text not null);
"""
UP = """
alter table orders add column note text;  -- free text from support
create index orders_note on orders (note);
insert into audit_log values ('note column added; it''s ours');
"""
MARKERS = f"select count(*) from {MARKER_TABLE}"  # noqa: S608 - a constant
DOWN = "drop index orders_note; alter table orders drop column note; delete from audit_log;"


@pytest.fixture
def target(monkeypatch):
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"{parts.path.lstrip('/') or 'ccb'}_target"
    admin = psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)
    admin.execute(f'drop database if exists "{name}" with (force)')
    admin.execute(f'create database "{name}"')
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
    monkeypatch.setenv("CCB_TARGET_DSN", dsn)
    yield dsn
    admin.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


def schema_of(dsn):
    with psycopg.connect(dsn) as conn:
        return describe(conn, ["public"])


def scalar(dsn, sql):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchone()[0]


def change(dsn, key="run-1-step-1", **params):
    base = {"dsn_env": "CCB_TARGET_DSN", "up_sql": UP, "down_sql": DOWN, "expect_digest": digest(schema_of(dsn))}
    return Driver("db_schema_change", {**base, **params}, key=key)


def test_the_plan_shows_the_digest_and_the_statements_and_changes_nothing(target):
    before = schema_of(target)
    plan = change(target).plan()
    assert plan.before == {"digest": digest(before), "objects": len(before), "applied": False}
    assert plan.changes == [
        "statement: alter table orders add column note text",
        "statement: create index orders_note on orders (note)",
        "statement: insert into audit_log values ('note column added; it''s ours')",
    ]
    dry = change(target, plan_dry_run=True).plan()
    assert '+ column public.orders.note: [4, "text", "text", null, null, null, "YES", null]' in dry.changes
    assert "+ index public.orders_note: CREATE INDEX orders_note ON public.orders USING btree (note)" in dry.changes
    assert schema_of(target) == before and scalar(target, "select count(*) from audit_log") == 0
    assert scalar(target, f"select to_regclass('{MARKER_TABLE}')") is None


def test_a_dry_run_that_fails_says_so_in_the_plan(target):
    plan = change(target, up_sql="alter table nowhere add column x int", plan_dry_run=True).plan()
    assert plan.changes[-1] == 'THE DRY RUN FAILED: relation "nowhere" does not exist (SQLSTATE 42P01)'


def test_the_up_script_runs_once_whatever_is_called_again(target):
    driver = change(target)
    outcome = driver.call("execute", lose_state=True)  # committed in the target; the engine never heard
    assert outcome.result is Result.DONE and "+ column public.orders.note" in outcome.evidence["changes"][0]
    again = driver.run()
    assert again.result is Result.DONE and again.message.startswith("Already applied at ")
    assert change(target).params.expect_digest != driver.params.expect_digest  # the schema did change
    assert scalar(target, "select count(*) from audit_log") == 1
    assert scalar(target, MARKERS) == 1
    assert driver.call("verify").result is Result.DONE


def test_two_workers_at_once_apply_it_once(target):
    slow = UP + "select pg_sleep(0.05);"
    drivers = [change(target, up_sql=slow), change(target, up_sql=slow)]
    outcomes = []
    threads = [threading.Thread(target=lambda d=d: outcomes.append(d.call("execute"))) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.message.startswith("Already applied") for o in outcomes) == [False, True]
    assert scalar(target, "select count(*) from audit_log") == 1


def test_a_failing_up_script_leaves_nothing_behind(target):
    before = schema_of(target)
    outcome = change(target, up_sql=UP + "alter table nowhere add column x int;").run()
    assert outcome.result is Result.FAILED
    assert outcome.message == (
        'The up script failed and was rolled back: relation "nowhere" does not exist (SQLSTATE 42P01)'
    )
    assert schema_of(target) == before and scalar(target, "select count(*) from audit_log") == 0
    assert scalar(target, f"select to_regclass('{MARKER_TABLE}')") is None


def test_a_target_not_in_the_expected_state_is_left_alone(target):
    driver = change(target, expect_digest="0" * 64)
    assert driver.plan().changes[0].startswith("THE TARGET IS NOT AS EXPECTED")
    outcome = driver.run()
    assert outcome.result is Result.FAILED and "not the expected one" in outcome.message
    assert "note" not in "".join(schema_of(target))


def test_an_unexpected_result_is_not_committed(target):
    outcome = change(target, expect_after_digest="f" * 64).run()
    assert outcome.result is Result.FAILED and "nothing was committed" in outcome.message
    assert "+ column public.orders.note" in outcome.evidence["changes"][0]
    assert "note" not in "".join(schema_of(target))


def test_the_rollback_leaves_the_schema_exactly_as_before(target):
    before = schema_of(target)
    driver = change(target)
    assert driver.run().result is Result.DONE
    assert schema_of(target) != before
    assert driver.call("rollback", lose_state=True).result is Result.DONE
    assert driver.run("rollback").message == "Nothing to undo: the change is not applied."
    assert schema_of(target) == before and digest(schema_of(target)) == driver.params.expect_digest
    assert scalar(target, MARKERS) == 0


def test_a_down_script_that_does_not_restore_the_schema_is_not_committed(target):
    driver = change(target, down_sql="drop index orders_note;")  # forgets the column
    assert driver.run().result is Result.DONE
    outcome = driver.run("rollback")
    assert outcome.result is Result.FAILED and "nothing was committed" in outcome.message
    assert outcome.evidence["differs"] == [
        '+ column public.orders.note: [4, "text", "text", null, null, null, "YES", null]'
    ]
    assert "column public.orders.note" in "".join(schema_of(target))  # still applied, marker kept
    assert scalar(target, MARKERS) == 1


def test_a_missing_dsn_variable_is_named(target, monkeypatch):
    monkeypatch.delenv("CCB_TARGET_DSN")
    driver = Driver(
        "db_schema_change", {"dsn_env": "CCB_TARGET_DSN", "up_sql": UP, "down_sql": DOWN, "expect_digest": "0" * 64}
    )
    with pytest.raises(TargetUnavailable, match="CCB_TARGET_DSN"):
        driver.call("execute")
