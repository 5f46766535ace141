"""A flood of refused requests costs the chain one event per person, rule and window, not one each:
the first refusal is on the chain at once, the repeats are counted off the chain's lock and put on it
as one event when the window closes."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from ccb import audit
from ccb.choices import AuditAction
from ccb.models import AuditEvent, RefusalWindow
from ccb.services.refusals import refusal_windows_digest

from ..conftest import on_postgres


@pytest.fixture(autouse=True)
def _an_hour_long_window(settings):
    # Windows are aligned to the clock: an hour keeps a slow test run inside one of them.
    settings.CCB_REFUSAL_WINDOW_SECONDS = 3600


def refused_events(name):
    return list(AuditEvent.objects.filter(action=AuditAction.POLICY_REFUSED, actor_name=name))


@pytest.mark.django_db
def test_two_hundred_refused_requests_append_one_event(api, board, people):
    client = api(people["bob"])
    before = AuditEvent.objects.count()
    for _ in range(200):
        r = client.get("/api/v1/audit/")
        assert r.status_code == 403 and r.json()["rule"] == "auditors_only"
    assert AuditEvent.objects.count() == before + 1
    (first,) = refused_events("bob")
    assert json.loads(first.data)["rule"] == "auditors_only"
    window = RefusalWindow.objects.get(actor_name="bob", rule="auditors_only")
    assert (window.count, window.first_seq, window.digested_seq) == (200, first.seq, None)


@pytest.mark.django_db
def test_the_repeats_reach_the_chain_once_the_window_closes(api, board, people):
    client = api(people["bob"])
    for _ in range(5):
        client.get("/api/v1/audit/")
    window = RefusalWindow.objects.get(actor_name="bob")
    assert refusal_windows_digest(now=window.window_end - timedelta(seconds=1)) == 0  # still open
    assert refusal_windows_digest(now=window.window_end) == 1
    repeated = AuditEvent.objects.get(action=AuditAction.POLICY_REFUSED_REPEATED)
    data = json.loads(repeated.data)
    assert (data["rule"], data["actor"], data["repeats"], data["first_seq"]) == (
        "auditors_only",
        "bob",
        4,
        window.first_seq,
    )
    assert data["last"]["path"] == "/api/v1/audit/"
    assert repeated.actor_id == people["bob"].pk
    assert refusal_windows_digest(now=window.window_end + timedelta(minutes=5)) == 0  # never twice
    assert audit.verify().ok


@pytest.mark.django_db
def test_a_single_refusal_needs_no_second_event(api, board, people):
    api(people["bob"]).get("/api/v1/audit/")
    window = RefusalWindow.objects.get(actor_name="bob")
    assert refusal_windows_digest(now=window.window_end) == 0
    assert RefusalWindow.objects.get(pk=window.pk).digested_seq == window.first_seq
    assert not AuditEvent.objects.filter(action=AuditAction.POLICY_REFUSED_REPEATED).exists()


@pytest.mark.django_db
def test_each_person_and_each_rule_has_its_own_first_event(api, board, people, submitted):
    for _ in range(3):
        api(people["bob"]).get("/api/v1/audit/")
        api(people["carol"]).get("/api/v1/audit/")
        api(people["alice"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert len(refused_events("bob")) == len(refused_events("carol")) == 1
    assert [json.loads(e.data)["rule"] for e in refused_events("alice")] == ["requester_cannot_vote"]


@pytest.mark.django_db
def test_the_next_window_starts_with_an_event_of_its_own(api, board, people, settings):
    settings.CCB_REFUSAL_WINDOW_SECONDS = 1
    client = api(people["bob"])
    client.get("/api/v1/audit/")
    deadline = RefusalWindow.objects.get().window_end
    time.sleep(max(0.0, (deadline - timezone.now()).total_seconds()) + 0.05)
    client.get("/api/v1/audit/")
    assert len(refused_events("bob")) == 2
    assert RefusalWindow.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_floods_count_every_refusal_and_take_the_chain_lock_once(api, board, people, submitted):
    """Four clients of one person refusing at once, while another person votes: every refusal is counted,
    one reaches the chain, and the vote is not refused or lost."""
    assert on_postgres()
    errors, statuses = [], []

    def flood():
        try:
            client = api(people["bob"])
            statuses.extend(client.get("/api/v1/audit/").status_code for _ in range(50))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    vote = api(people["carol"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    for t in threads:
        t.join()
    assert not errors and statuses == [403] * 200
    assert vote.status_code == 201, vote.content
    assert len(refused_events("bob")) == 1
    assert RefusalWindow.objects.get(actor_name="bob").count == 200
    assert audit.verify().ok
