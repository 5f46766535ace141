"""The audit chain: append-only in the database, and verification that names the first bad seq."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from ccb import audit, audit_sql
from ccb.models import AuditEvent


def append(n, actor=None):
    with transaction.atomic():
        return [audit.record(actor=actor, action="test.event", data={"i": i, "text": "ünïcode ✓"}) for i in range(n)]


def tamper(sql, params):
    """Change a row the way an attacker with table-owner rights would: triggers off, write, triggers on."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE ccb_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE ccb_auditevent ENABLE TRIGGER USER")
        else:
            for stmt in audit_sql.SQLITE_REMOVE:
                cursor.execute(stmt)
            cursor.execute(sql, params)
            for stmt in audit_sql.SQLITE_INSTALL:
                cursor.execute(stmt)


@pytest.mark.django_db
def test_events_chain_by_hash(people):
    events = append(3, actor=people["alice"])
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert events[0].actor_name == "alice"
    result = audit.verify()
    assert (result.ok, result.checked, result.head_seq, result.head_hash) == (True, 3, 3, events[2].hash)


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record(actor=None, action="test.event")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ccb_auditevent SET data = '{}' WHERE seq = 2",
        "DELETE FROM ccb_auditevent WHERE seq = 2",
        "DELETE FROM ccb_auditevent",
    ],
)
def test_database_refuses_update_and_delete(statement):
    append(3)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 3
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(action="forged")


@pytest.mark.django_db
@pytest.mark.postgres
def test_postgresql_refuses_truncate():
    append(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE ccb_auditevent")
    assert AuditEvent.objects.count() == 2


def test_sqlite_triggers_refuse_update_and_delete(tmp_path, django_db_blocker):
    """The SQLite triggers the migration installs, on a SQLite database of their own (CI runs on PostgreSQL)."""
    from django.conf import settings

    params = {
        **settings.DATABASES["default"],
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "audit.sqlite3"),
        "OPTIONS": {},
        "TEST": {},
    }
    params.setdefault("TIME_ZONE", None)
    params.setdefault("CONN_HEALTH_CHECKS", False)
    params.setdefault("AUTOCOMMIT", True)
    params.setdefault("ATOMIC_REQUESTS", False)
    alias = "sqlite_audit_check"
    connections.settings[alias] = params
    try:
        with django_db_blocker.unblock():
            _exercise_sqlite_triggers(connections[alias])
    finally:
        del connections.settings[alias]
        if hasattr(connections._connections, alias):
            delattr(connections._connections, alias)


def _exercise_sqlite_triggers(lite):
    try:
        with lite.schema_editor() as editor:
            editor.create_model(AuditEvent)
            audit_sql.run(editor, audit_sql.INSTALL)
        prev = audit.GENESIS_HASH
        with lite.cursor() as cursor:
            for seq in (1, 2, 3):
                at = timezone.now()
                digest = audit.compute_hash(
                    prev_hash=prev,
                    seq=seq,
                    at=at,
                    actor_id=None,
                    actor_name="system",
                    action="test.event",
                    target_type="",
                    target_id="",
                    data="{}",
                )
                cursor.execute(
                    "INSERT INTO ccb_auditevent (seq, at, actor_id, actor_name, action, target_type, target_id, "
                    "data, prev_hash, hash) VALUES (%s, %s, NULL, 'system', 'test.event', '', '', '{}', %s, %s)",
                    [seq, lite.ops.adapt_datetimefield_value(at), prev, digest],
                )
                prev = digest
        assert audit.verify(connection=lite).ok
        for statement in (
            "UPDATE ccb_auditevent SET action = 'forged' WHERE seq = 2",
            "DELETE FROM ccb_auditevent WHERE seq = 3",
            "DELETE FROM ccb_auditevent",
        ):
            with pytest.raises(DatabaseError, match="append-only"), lite.cursor() as cursor:
                cursor.execute(statement)
        with lite.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM ccb_auditevent")
            assert cursor.fetchone()[0] == 3
        # With the triggers dropped, a forged row is caught by verification, by seq.
        with lite.cursor() as cursor:
            for stmt in audit_sql.SQLITE_REMOVE:
                cursor.execute(stmt)
            cursor.execute("UPDATE ccb_auditevent SET data = '{\"forged\":true}' WHERE seq = 2")
        result = audit.verify(connection=lite)
        assert (result.ok, result.first_bad_seq, result.checked) == (False, 2, 1)
    finally:
        lite.close()


@pytest.mark.django_db
def test_audit_verify_names_the_exact_seq_of_an_altered_row(capsys):
    append(7)
    call_command("audit_verify")
    assert "7 events" in capsys.readouterr().out
    tamper("UPDATE ccb_auditevent SET data = %s WHERE seq = %s", ['{"i":99,"text":"x"}', 5])
    with pytest.raises(CommandError, match=r"broken at seq 5: hash does not match"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_audit_verify_names_a_missing_seq():
    append(6)
    tamper("DELETE FROM ccb_auditevent WHERE seq = %s", [4])
    result = audit.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3)
    assert "missing" in result.reason


@pytest.mark.django_db
def test_a_rehashed_forgery_still_breaks_the_next_link():
    events = append(4)
    forged = audit.compute_hash(
        prev_hash=events[1].prev_hash,
        seq=2,
        at=events[1].at,
        actor_id=None,
        actor_name="system",
        action="test.event",
        target_type="",
        target_id="",
        data='{"i":1,"text":"forged"}',
    )
    tamper("UPDATE ccb_auditevent SET data = %s, hash = %s WHERE seq = %s", ['{"i":1,"text":"forged"}', forged, 2])
    result = audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)


@pytest.mark.django_db
def test_verify_endpoint_answers_the_same(api, people, board):
    append(3)
    r = api(people["grace"]).get("/api/v1/audit/verify/")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["head_seq"] == AuditEvent.objects.count()
    tamper("UPDATE ccb_auditevent SET actor_name = %s WHERE seq = %s", ["mallory", 2])
    r = api(people["grace"]).get("/api/v1/audit/verify/")
    assert r.status_code == 409 and r.json()["ok"] is False and r.json()["first_bad_seq"] == 2


@pytest.mark.django_db
def test_trail_lists_and_filters_for_auditors(api, submitted, people):
    grace = api(people["grace"])
    r = grace.get(f"/api/v1/audit/?change={submitted.pk}&ordering=seq")
    actions = [e["action"] for e in r.json()["results"]]
    assert actions == ["change.created", "attachment.added", "change.submitted"]
    r = grace.get("/api/v1/audit/?actor=alice&action=change.submitted")
    assert r.json()["count"] == 1 and r.json()["results"][0]["data"]["number"] == 1
    assert grace.post("/api/v1/audit/", {}, format="json").status_code == 405


def test_the_hashed_body_is_the_canonical_json_of_the_event():
    """The hand-built body must stay byte-equal to canonical JSON, or old chains stop verifying."""
    import datetime as dt
    import hashlib
    import json

    at = dt.datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=dt.UTC)
    for name in ["plain", 'quote " and \\ backslash', "ünïcode ✓ 🚀", "\x00\x1f\n\t", "</script>"]:
        for actor_id in (None, 7):
            data = audit.canonical_json({"k": name, "n": [1, 2]})
            expected = json.dumps(
                {
                    "seq": 12,
                    "at": "2026-03-29T01:30:00.000005Z",
                    "actor": actor_id,
                    "actor_name": name,
                    "action": f"x.{name}",
                    "target_type": name,
                    "target_id": name,
                    "data": json.loads(data),
                },
                sort_keys=True,
                separators=(",", ":"),
            )
            digest = audit.compute_hash(
                prev_hash="a" * 64,
                seq=12,
                at=at,
                actor_id=actor_id,
                actor_name=name,
                action=f"x.{name}",
                target_type=name,
                target_id=name,
                data=data,
            )
            body_data = json.loads(expected)["data"]
            assert body_data == json.loads(data)
            # the data member is embedded as stored (non-ASCII kept), the other strings ASCII-escaped
            rebuilt = expected.replace(json.dumps(body_data, sort_keys=True, separators=(",", ":")), data)
            assert digest == hashlib.sha256(("a" * 64 + rebuilt).encode()).hexdigest()


@pytest.mark.django_db
def test_the_database_refuses_an_event_numbered_below_one():
    append(1)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ccb_auditevent (seq, at, actor_name, action, target_type, target_id, data, prev_hash, hash) "
            "VALUES (0, %s, 'forger', 'test.event', '', '', '{}', %s, %s)",
            [timezone.now(), audit.GENESIS_HASH, "f" * 64],
        )
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("seq", [0, -5])
def test_verification_starts_at_the_first_row_stored_whatever_its_seq(seq):
    """An insider who drops the constraint and slips in a row numbered below 1 is found, not skipped."""
    append(2)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ccb_auditevent DROP CONSTRAINT audit_seq_starts_at_one")
        cursor.execute(
            "INSERT INTO ccb_auditevent (seq, at, actor_name, action, target_type, target_id, data, prev_hash, hash) "
            "VALUES (%s, %s, 'forger', 'test.event', '', '', '{}', %s, %s)",
            [seq, timezone.now(), audit.GENESIS_HASH, "f" * 64],
        )
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == seq, result
    listed = [e["seq"] for e in audit_list_as_auditor()]
    assert seq in listed  # what the API lists is what verification checked


def audit_list_as_auditor():
    return AuditEvent.objects.order_by("seq").values("seq")
