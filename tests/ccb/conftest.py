"""Scheduling fixtures: a change can only be booked inside a maintenance window, so tests that book
one first give its services a window."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ccb import services


def in_window(days: int = 2, hour: int = 10) -> datetime:
    """``days`` from now at ``hour``:00 UTC: inside the daytime windows of the ``windows`` fixture."""
    return (timezone.now() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def window(actor, service, *, name="Daytime", environment="production", time_zone="UTC",
           dtstart=datetime(2020, 1, 1, 6, 0), duration_minutes=16 * 60, rrule="FREQ=DAILY", exdates=()):
    return services.maintenance_window_save(actor=actor, data={
        "service": service, "environment": environment, "name": name, "time_zone": time_zone, "dtstart": dtstart,
        "duration_minutes": duration_minutes, "rrule": rrule, "exdates": list(exdates)})


@pytest.fixture
def windows(service_map, people):
    """Daily 06:00–22:00 UTC production windows on every service of ``service_map``, set by the chair."""
    return {slug: window(people["erin"], svc) for slug, svc in service_map.items()}
