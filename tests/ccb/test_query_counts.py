"""List endpoints cost the same number of queries for 5 rows as for 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccb import audit, services
from ccb.models import ChangeRequest


def make_rows(n, board, people, service_map):
    rows = ChangeRequest.objects.bulk_create(
        [
            ChangeRequest(
                board=board,
                requester=people["alice"],
                implementer=people["frank"],
                title=f"Change {i}",
                status="submitted" if i % 2 else "draft",
            )
            for i in range(n)
        ]
    )
    through = ChangeRequest.services.through
    through.objects.bulk_create(
        [through(changerequest_id=c.pk, service_id=s.pk) for c in rows for s in service_map.values()]
    )


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


# The pin: token with its user, site-auditor check, the user's boards, count, page, services prefetch.
PINS = {
    "/api/v1/changes/": 6,
    "/api/v1/changes/?status=submitted&ordering=-created_at&search=Change": 6,
    "/api/v1/changes/?service=api&page_size=100": 6,
}


@pytest.mark.parametrize("url", list(PINS))
def test_change_list_queries_do_not_grow_with_rows(api, board, people, service_map, url):
    client = api(people["bob"])
    make_rows(5, board, people, service_map)
    few, body = count_queries(client, url)
    assert body["count"] >= 1
    make_rows(495, board, people, service_map)
    many, body = count_queries(client, url)
    assert body["count"] > 5 and len(body["results"]) > 5
    assert few == many == PINS[url]


def test_audit_list_queries_do_not_grow_with_rows(api, board, people):
    from django.db import transaction

    client = api(people["grace"])
    few, _ = count_queries(client, "/api/v1/audit/")
    with transaction.atomic():
        for i in range(300):
            audit.record(actor=None, action="test.event", data={"i": i})
    many, body = count_queries(client, "/api/v1/audit/")
    assert len(body["results"]) == 50 and few == many


def add_catalogue(start, stop, admin_user, people, service_map, runbook):
    from deployments import services as rb

    for i in range(start, stop):
        b = services.board_save(actor=admin_user, data={"name": f"Board {i}", "slug": f"board-{i}"})
        services.board_role_grant(actor=admin_user, board=b, user=people["erin"], role="chair")
        svc = services.service_save(
            actor=admin_user, data={"name": f"Svc {i}", "slug": f"svc-{i}", "board": b}, depends_on=[service_map["api"]]
        )
        v = rb.runbook_create(
            actor=people["frank"],
            board=b,
            name=f"R{i}",
            description="",
            source_yaml="schema: 2\nstages: [{name: s, steps: [{name: a, type: wait, params: {seconds: 60}}]}]",
        )
        v = rb.runbook_version_approve(actor=people["erin"], version_id=v.pk)
        services.template_save(
            actor=admin_user, services=[svc], data={"board": b, "name": f"T{i}", "runbook_version": v.pk}
        )


@pytest.mark.parametrize("url", ["/api/v1/boards/", "/api/v1/services/", "/api/v1/runbooks/", "/api/v1/templates/"])
def test_catalogue_lists_do_not_grow_with_rows(api, board, people, service_map, runbook, admin_user, url):
    client = api(people["erin"])
    add_catalogue(0, 1, admin_user, people, service_map, runbook)
    few, _ = count_queries(client, url)
    add_catalogue(1, 21, admin_user, people, service_map, runbook)
    many, body = count_queries(client, url)
    assert body["count"] >= 21
    assert few == many


def add_windows_and_freezes(start, stop, people, service_map, board):
    from datetime import datetime, timedelta

    from django.utils import timezone

    for i in range(start, stop):
        for svc in service_map.values():
            services.maintenance_window_save(
                actor=people["erin"],
                data={
                    "service": svc,
                    "environment": "production",
                    "name": f"W{i}",
                    "time_zone": "Europe/London",
                    "dtstart": datetime(2026, 1, 1, 1, 0),
                    "duration_minutes": 60,
                    "rrule": "FREQ=WEEKLY;BYDAY=SU",
                },
            )
        services.freeze_save(
            actor=people["erin"],
            services=list(service_map.values()),
            data={
                "name": f"F{i}",
                "reason": "Peak.",
                "board": board,
                "start": timezone.now() + timedelta(days=i + 1),
                "end": timezone.now() + timedelta(days=i + 2),
            },
        )


@pytest.mark.parametrize("url", ["/api/v1/windows/", "/api/v1/freezes/"])
def test_window_and_freeze_lists_do_not_grow_with_rows(api, board, people, service_map, url):
    client = api(people["alice"])
    add_windows_and_freezes(0, 1, people, service_map, board)
    few, _ = count_queries(client, url)
    add_windows_and_freezes(1, 20, people, service_map, board)
    many, body = count_queries(client, url)
    assert body["count"] >= 20
    assert few == many <= 6
