"""Scheduling fixtures: a change can only be booked inside a maintenance window, so tests that book
one first give its services a window."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ccb import services
from ccb.models import ChangeRequest


def in_window(days: int = 2, hour: int = 10) -> datetime:
    """``days`` from now at ``hour``:00 UTC: inside the daytime windows of the ``windows`` fixture."""
    return (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def window(
    actor,
    service,
    *,
    name="Daytime",
    environment="production",
    time_zone="UTC",
    dtstart=datetime(2020, 1, 1, 6, 0),
    duration_minutes=16 * 60,
    rrule="FREQ=DAILY",
    exdates=(),
):
    return services.maintenance_window_save(
        actor=actor,
        data={
            "service": service,
            "environment": environment,
            "name": name,
            "time_zone": time_zone,
            "dtstart": dtstart,
            "duration_minutes": duration_minutes,
            "rrule": rrule,
            "exdates": list(exdates),
        },
    )


@pytest.fixture
def windows(service_map, people):
    """Daily 06:00–22:00 UTC production windows on every service of ``service_map``, set by the chair."""
    return {slug: window(people["erin"], svc) for slug, svc in service_map.items()}


def at(hour: int, minute: int = 0, days: int = 3) -> datetime:
    """``days`` from now at hour:minute UTC."""
    return in_window(days=days, hour=0).replace(hour=hour, minute=minute)


def book(change, start, actor, **kw):
    return services.change_request_schedule(change_id=change.pk, actor=actor, planned_start=start, **kw)


def freeze(actor, *, start, end, board=None, svcs=None, name="Release freeze", reason="Peak trading.", env=""):
    return services.freeze_save(
        actor=actor,
        services=svcs,
        data={"name": name, "reason": reason, "board": board, "start": start, "end": end, "environment": env},
    )


@pytest.fixture
def approve(people):
    """approve(change): bob and carol approve it, which meets the board's quorum for a low-risk change."""

    def do(change):
        for name in ("bob", "carol"):
            services.vote_cast(change_id=change.pk, voter=people[name], decision="approve")
        return ChangeRequest.objects.get(pk=change.pk)

    return do


@pytest.fixture
def approved_on(make_change, approve, service_map):
    """approved_on("api", title=...) -> an approved change of alice's on that service, frank implementing."""

    def make(slug="api", requester="alice", **overrides):
        overrides.setdefault("services", [service_map[slug]])
        change = make_change(requester=requester, **overrides)
        services.change_request_submit(change_id=change.pk, actor=change.requester)
        return approve(change)

    return make
