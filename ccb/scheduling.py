"""The scheduling rules and the free-slot search. Reads only: the services in ccb/services/ write.

A change's timeline is [planned_start, planned_start + its duration), half-open, compared as instants.
It is accepted when, for every service it affects, it fits inside one occurrence of an active
maintenance window for that service in the change's environment; it overlaps no active freeze that
covers one of its services; and it overlaps no scheduled or implementing change in the same
environment on the same service, on a service it depends on, or on one that depends on it
(dependencies followed transitively).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from ccb import execution
from ccb.choices import OCCUPYING_STATES, Environment, ScheduleRule
from ccb.exceptions import Conflict, PacketInvalid
from ccb.models import ChangeRequest, FreezeWindow, MaintenanceWindow, Service

SAME, DEPENDENCY, DEPENDENT = "same", "dependency", "dependent"
SLOT_HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class Problem:
    """One rule a timeline breaks, with what it breaks against (a window, a freeze or another change).

    ``pieces`` is the explanation as text and (start, end) instants, so each reader sees the times in
    their own zone (``problem_text``); ``message`` is it written out in the zone active when found.
    """

    rule: str
    message: str
    service: str = ""
    window: int | None = None
    freeze: int | None = None
    change: int | None = None
    pieces: tuple = ()

    def as_dict(self) -> dict:
        data = asdict(self)
        data["pieces"] = [
            p if isinstance(p, str) else {"start": p[0].isoformat(), "end": p[1].isoformat()} for p in self.pieces
        ]
        return data

    @property
    def key(self) -> tuple:
        return (self.rule, self.service, self.window, self.freeze, self.change)


def _problem(rule: str, *pieces, **about) -> Problem:
    return Problem(rule, _render(pieces), pieces=tuple(pieces), **about)


def _render(pieces, tz=None) -> str:
    return "".join(p if isinstance(p, str) else _fmt_range(p[0], p[1], tz) for p in pieces)


def problem_text(problem: dict, tz) -> str:
    """A stored problem (``Problem.as_dict``) written out in ``tz``; a row stored before problems kept
    their pieces shows its message as it was stored."""
    pieces = problem.get("pieces")
    if not pieces:
        return str(problem.get("message", ""))
    try:
        return _render(
            [
                p if isinstance(p, str) else (datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]))
                for p in pieces
            ],
            tz,
        )
    except (KeyError, TypeError, ValueError):
        return str(problem.get("message", ""))


@dataclass(frozen=True)
class Slot:
    """A start that passes every rule; any start up to ``latest_start`` in the same free stretch does too."""

    start: datetime
    end: datetime
    latest_start: datetime


class ScheduleRefused(Conflict):
    """The timeline breaks a scheduling rule (409); ``problems`` names each window, freeze and change."""

    def __init__(self, problems: list[Problem], note: str = ""):
        super().__init__(" ".join([*(p.message for p in problems), *([note] if note else [])]))
        self.problems = problems


@dataclass(frozen=True)
class Timeline:
    """How long a booking lasts: the deployment (the longer of the runbook version's step timeouts and the
    packet's estimated duration, whichever are known) plus the packet's time to roll back, so a slot
    always has room to undo the change inside the same window."""

    runbook: int | None
    estimate: int | None
    rollback: int

    @property
    def deployment(self) -> int | None:
        known = [m for m in (self.runbook, self.estimate) if m]
        return max(known) if known else None

    @property
    def minutes(self) -> int | None:
        return self.deployment + self.rollback if self.deployment else None


def timeline(change: ChangeRequest) -> Timeline:
    runbook = execution.runbook_of(change=change)
    return Timeline(
        runbook=runbook.planned_minutes if runbook is not None and runbook.planned_minutes > 0 else None,
        estimate=change.estimated_duration_minutes or None,
        rollback=change.rollback_minutes or 0,
    )


def timeline_minutes(change: ChangeRequest) -> int | None:
    """The length a booking covers (see Timeline); None when the deployment's length is unknown."""
    return timeline(change).minutes


def require_timeline(change: ChangeRequest) -> timedelta:
    minutes = timeline_minutes(change)
    if not minutes:
        raise PacketInvalid(
            {
                "timeline": [
                    "The length of the deployment is unknown: the linked runbook version has no step timeouts and the "
                    "packet gives no estimated duration, so no window can be checked."
                ]
            }
        )
    return timedelta(minutes=minutes)


def related_services(service_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """{service id: (relation, the change's own service it relates to)} for every service a change to
    ``service_ids`` must not overlap: those services, what they depend on, and what depends on them."""
    own = set(service_ids)
    depends_on, dependents = defaultdict(set), defaultdict(set)
    for a, b in Service.depends_on.through.objects.values_list("from_service_id", "to_service_id"):
        depends_on[a].add(b)
        dependents[b].add(a)
    related = {sid: (SAME, sid) for sid in own}
    for graph, relation in ((depends_on, DEPENDENCY), (dependents, DEPENDENT)):
        frontier = {sid: sid for sid in own}
        while frontier:
            step = {}
            for sid, origin in frontier.items():
                for nxt in graph[sid]:
                    if nxt not in related:
                        related[nxt] = (relation, origin)
                        step[nxt] = origin
            frontier = step
    return related


# --- formatting: times in the viewer's active zone, window occurrences in the window's own ----------


def _fmt(instant: datetime, tz=None) -> str:
    local = instant.astimezone(tz) if tz is not None else timezone.localtime(instant)
    return local.strftime("%a %d %b %Y %H:%M %Z")


def _fmt_range(start: datetime, end: datetime, tz=None) -> str:
    a = start.astimezone(tz) if tz is not None else timezone.localtime(start)
    b = end.astimezone(tz) if tz is not None else timezone.localtime(end)
    if a.date() == b.date() and a.tzname() == b.tzname():
        return f"{a:%a %d %b %Y %H:%M}–{b:%H:%M %Z}"
    if a.date() == b.date():  # across a clock change: each end in its own offset
        return f"{a:%a %d %b %Y %H:%M %Z}–{b:%H:%M %Z}"
    return f"{_fmt(start, tz)} – {_fmt(end, tz)}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def _env(value: str) -> str:
    return Environment(value).label.lower() if value in Environment.values else value


# --- the rules -------------------------------------------------------------------------------


def _windows_by_service(service_ids: Iterable[int], environment: str) -> dict[int, list[MaintenanceWindow]]:
    found: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    for window in MaintenanceWindow.objects.filter(
        service_id__in=list(service_ids), environment=environment, active=True
    ).order_by("name", "pk"):
        found[window.service_id].append(window)
    return found


def _outside_detail(svc: Service, env: str, windows, occurrences, start, end) -> tuple[tuple, int | None]:
    if not occurrences:
        names = ", ".join(f"'{w.name}'" for w in windows)
        return (f"it falls outside every maintenance window for {svc.name} in {env} ({names})",), windows[0].pk
    window, o_start, o_end = max(occurrences, key=lambda o: min(o[2], end) - max(o[1], start))
    where = (f"'{window.name}' (", (o_start, o_end), ")")
    if start < o_start and end > o_end:
        return ("it is longer than ", *where), window.pk
    if start < o_start:
        return (f"it starts {_span(o_start - start)} before ", *where, " opens"), window.pk
    return (f"it runs {_span(end - o_end)} past the end of ", *where), window.pk


def window_problems(change: ChangeRequest, services: list[Service], start: datetime, end: datetime) -> list[Problem]:
    if not services:
        return [
            Problem(
                ScheduleRule.NO_WINDOW, "The change names no affected service, so no maintenance window can admit it."
            )
        ]
    env = _env(change.environment)
    by_service = _windows_by_service((s.pk for s in services), change.environment)
    problems = []
    for svc in services:
        windows = by_service.get(svc.pk, [])
        if not windows:
            problems.append(
                Problem(
                    ScheduleRule.NO_WINDOW,
                    f"No maintenance window is defined for {svc.name} in {env}.",
                    service=svc.slug,
                )
            )
            continue
        occurrences = [(w, s, e) for w in windows for s, e in w.occurrences(start, end)]
        if any(s <= start and end <= e for _, s, e in occurrences):
            continue
        detail, window_id = _outside_detail(svc, env, windows, occurrences, start, end)
        problems.append(
            _problem(
                ScheduleRule.OUTSIDE_WINDOW,
                "The timeline ",
                (start, end),
                f" does not fit inside one occurrence of a maintenance window for {svc.name} in {env}: ",
                *detail,
                ".",
                service=svc.slug,
                window=window_id,
            )
        )
    return problems


def covering_freezes(
    change: ChangeRequest, services: list[Service], start: datetime, end: datetime
) -> list[FreezeWindow]:
    """Active freezes overlapping [start, end) that cover the change: one of its services by name, every
    service of a service's board (or of the change's board), or everything."""
    service_ids = {s.pk for s in services}
    boards = {s.board_id for s in services} | {change.board_id}
    candidates = (
        FreezeWindow.objects.filter(active=True, start__lt=end, end__gt=start)
        .filter(environment__in=["", change.environment])
        .prefetch_related("services")
        .order_by("start", "pk")
    )
    covering = []
    for freeze in candidates:
        named = {s.pk for s in freeze.services.all()}
        if named & service_ids or (not named and (freeze.board_id is None or freeze.board_id in boards)):
            covering.append(freeze)
    return covering


def freeze_problems(change: ChangeRequest, services: list[Service], start: datetime, end: datetime) -> list[Problem]:
    return [
        _problem(
            ScheduleRule.FREEZE,
            "The timeline ",
            (start, end),
            f" overlaps the freeze '{f.name}' (",
            (f.start, f.end),
            f"): {f.reason}",
            freeze=f.pk,
        )
        for f in covering_freezes(change, services, start, end)
    ]


def occupying_changes(change: ChangeRequest, related: dict[int, tuple[str, int]], start: datetime, end: datetime):
    """Scheduled or implementing changes in the same environment, on a related service, overlapping."""
    ids = (
        ChangeRequest.objects.filter(
            status__in=OCCUPYING_STATES,
            environment=change.environment,
            planned_start__lt=end,
            planned_end__gt=start,
            services__in=list(related),
        )
        .exclude(pk=change.pk)
        .values("pk")
    )
    return (
        ChangeRequest.objects.filter(pk__in=ids)
        .prefetch_related("services")
        .only("pk", "title", "status", "board", "planned_start", "planned_end")
        .order_by("planned_start", "pk")
    )


def _relation_text(relation: str, hit: Service, origin: Service) -> str:
    if relation == SAME:
        return "which both change"
    if relation == DEPENDENCY:
        return f"which {origin.name} depends on"
    return f"which depends on {origin.name}"


def conflict_problems(change: ChangeRequest, services: list[Service], start: datetime, end: datetime) -> list[Problem]:
    related = related_services(s.pk for s in services)
    own = {s.pk: s for s in services}
    order = {SAME: 0, DEPENDENCY: 1, DEPENDENT: 2}
    problems = []
    for other in occupying_changes(change, related, start, end):
        hit = min((s for s in other.services.all() if s.pk in related), key=lambda s: (order[related[s.pk][0]], s.name))
        relation, origin = related[hit.pk]
        name = (
            f"{other.reference} '{other.title}'"
            if other.board_id == change.board_id
            else (f"{other.reference} (on another board)")
        )
        problems.append(
            _problem(
                ScheduleRule.CONFLICT,
                "The timeline ",
                (start, end),
                f" overlaps {name} ({other.get_status_display().lower()} ",
                (other.planned_start, other.planned_end),
                f") on {hit.name}, {_relation_text(relation, hit, own[origin])}.",
                service=hit.slug,
                change=other.pk,
            )
        )
    return problems


def check(change: ChangeRequest, start: datetime, end: datetime, *, ignore: Iterable[str] = ()) -> list[Problem]:
    """Every rule [start, end) breaks for this change, in the order windows, freezes, conflicts."""
    ignore = set(ignore)
    services = list(change.services.all().order_by("name"))
    problems = []
    if not ignore & {ScheduleRule.NO_WINDOW, ScheduleRule.OUTSIDE_WINDOW}:
        problems += window_problems(change, services, start, end)
    if ScheduleRule.FREEZE not in ignore:
        problems += freeze_problems(change, services, start, end)
    if ScheduleRule.CONFLICT not in ignore:
        problems += conflict_problems(change, services, start, end)
    return problems


# --- free slots: interval arithmetic over possible start instants ---------------------------------
# A set of possible starts is a sorted list of disjoint closed intervals [lo, hi].


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _intersect(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _remove_open(starts: list[tuple[datetime, datetime]], lo: datetime, hi: datetime):
    """Remove the open interval (lo, hi): the starts whose timeline would overlap a blocked [lo + d, hi)."""
    out = []
    for a, b in starts:
        if a <= min(b, lo):
            out.append((a, min(b, lo)))
        if max(a, hi) <= b:
            out.append((max(a, hi), b))
    return out


def free_slots(change: ChangeRequest, *, count: int, after: datetime | None = None) -> list[Slot]:
    """The next ``count`` starts that pass every rule, one per free stretch, earliest first."""
    length = require_timeline(change)
    now = timezone.now()
    earliest = max(now, after or now)
    if earliest.second or earliest.microsecond:  # offer whole minutes
        earliest = earliest.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = earliest + SLOT_HORIZON
    services = list(change.services.all())
    if not services:
        return []
    by_service = _windows_by_service((s.pk for s in services), change.environment)
    starts: list[tuple[datetime, datetime]] | None = None
    for svc in services:
        fits = [
            (s, e - length)
            for w in by_service.get(svc.pk, [])
            for s, e in w.occurrences(earliest, limit + length)
            if e - s >= length
        ]
        starts = _merge(fits) if starts is None else _intersect(starts, _merge(fits))
    blocked = [(f.start, f.end) for f in covering_freezes(change, services, earliest, limit + length)]
    related = related_services(s.pk for s in services)
    blocked += [(c.planned_start, c.planned_end) for c in occupying_changes(change, related, earliest, limit + length)]
    for lo, hi in blocked:
        starts = _remove_open(starts or [], lo - length, hi)
    slots = []
    for lo, hi in starts or []:
        lo = max(lo, earliest)
        if lo <= hi:
            slots.append(Slot(start=lo, end=lo + length, latest_start=hi))
            if len(slots) == count:
                break
    return slots
