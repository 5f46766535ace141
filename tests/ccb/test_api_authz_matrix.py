"""The API authorization matrix, generated from the URL resolver.

Every route under ``api/`` and every HTTP method its view accepts (OPTIONS and HEAD aside) must have
a row in ``EXPECTED`` saying, for each persona, whether the call is allowed or denied. A new route,
or a new method on an old one, fails ``test_every_api_route_has_an_authorization_decision`` until
someone decides who may call it; a row for a route that no longer exists fails it too.

Each (route, method, persona) is its own test with its own objects, so a write cannot leak into
another case (pytest-django rolls back between tests).

Outcome of a request:
  denied   401, 403 or 404 (and the row names which one: 401 anonymous, 403 a rule refused it,
           404 the object is missing or hidden from this person)
  allowed  any other status below 500, including 400 and 409 (the request got past authorization
           and was judged on its content or on the change's state)
  5xx      always a failure
A 403 must name the refused rule (``rule`` in the JSON body), as DESIGN.md's API contract says.

The table encodes the product rules of /work/shared/DESIGN.md ("Roles", "Separation of duties",
"API contract"). Where the code disagrees with them, the row keeps the rule and the case is listed
in ``KNOWN_VIOLATIONS``, which marks it ``xfail(strict=True)``: it starts passing, and so fails the
suite, on the day the code is fixed, and the entry must then be removed.
"""

import json
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ccb import execution, services
from ccb.choices import AuditAction
from ccb.models import AuditEvent
from deployments import services as runbook_services

from ..conftest import RUNBOOK_YAML, pdf_upload

PERSONAS = ("anonymous", "requester", "member", "chair", "implementer", "auditor", "outsider")
USERNAME = {
    "anonymous": None,
    "requester": "alice",
    "member": "bob",
    "chair": "erin",
    "implementer": "frank",
    "auditor": "grace",
    "outsider": "oscar",
}
PASSWORD = "pw-for-tests"  # tests/factories.py
IGNORED_METHODS = {"OPTIONS", "HEAD"}
# A plain Django function view does not say which methods it takes: every one must be decided.
ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")

# ok = allowed; 401 / 403 / 404 = denied with exactly that status.
# The change in every /changes/{pk}/ row is alice's, submitted, with frank as its implementer.
# Its board's role holders (member bob, chair erin, implementer frank, auditor grace) see it; alice
# sees it as its requester; oscar holds no role anywhere and must not learn that it exists.
_ROWS = """
route                           method   anonymous requester member chair implementer auditor outsider
api-token                       POST     ok        ok        ok     ok    ok          ok      ok
api-me                          GET      401       ok        ok     ok    ok          ok      ok
board-list                      GET      401       ok        ok     ok    ok          ok      ok
board-list                      POST     401       403       403    403   403         403     403
board-detail                    GET      401       ok        ok     ok    ok          ok      ok
board-detail                    PATCH    401       403       403    403   403         403     403
service-list                    GET      401       ok        ok     ok    ok          ok      ok
service-list                    POST     401       403       403    403   403         403     403
service-detail                  GET      401       ok        ok     ok    ok          ok      ok
service-detail                  PATCH    401       403       403    403   403         403     403
template-list                   GET      401       ok        ok     ok    ok          ok      ok
template-list                   POST     401       403       403    ok    403         403     403
template-detail                 GET      401       ok        ok     ok    ok          ok      ok
template-detail                 PATCH    401       403       403    ok    403         403     403
change-list                     GET      401       ok        ok     ok    ok          ok      ok
change-list                     POST     401       ok        ok     ok    ok          403     ok
change-detail                   GET      401       ok        ok     ok    ok          ok      404
change-detail                   PATCH    401       ok        403    403   403         403     404
change-attachments              GET      401       ok        ok     ok    ok          ok      404
change-attachments              POST     401       ok        403    403   403         403     404
change-download                 GET      401       ok        ok     ok    ok          ok      404
change-entry-criteria           GET      401       ok        ok     ok    ok          ok      404
change-revisions                GET      401       ok        ok     ok    ok          ok      404
change-submit                   POST     401       ok        403    403   403         403     404
change-revise                   POST     401       ok        403    403   403         403     404
change-withdraw                 POST     401       ok        403    ok    403         403     404
change-review                   POST     401       403       ok     ok    403         403     404
change-votes                    GET      401       ok        ok     ok    ok          ok      404
change-votes                    POST     401       403       ok     ok    403         403     404
change-tally                    GET      401       ok        ok     ok    ok          ok      404
change-decide                   POST     401       403       403    ok    403         403     404
change-decisions                GET      401       ok        ok     ok    ok          ok      404
change-satisfy-condition        POST     401       ok        403    403   ok          403     404
change-schedule                 POST     401       403       403    ok    ok          403     404
change-close                    POST     401       403       403    ok    403         403     404
change-retrospective            POST     401       403       403    ok    403         403     404
change-slots                    GET      401       ok        ok     ok    ok          ok      404
window-list                     GET      401       ok        ok     ok    ok          ok      ok
window-list                     POST     401       403       403    ok    403         403     403
window-detail                   GET      401       ok        ok     ok    ok          ok      ok
window-detail                   PATCH    401       403       403    ok    403         403     403
window-detail                   DELETE   401       403       403    ok    403         403     403
freeze-list                     GET      401       ok        ok     ok    ok          ok      ok
freeze-list                     POST     401       403       403    ok    403         403     403
freeze-detail                   GET      401       ok        ok     ok    ok          ok      ok
freeze-detail                   PATCH    401       403       403    ok    403         403     403
freeze-detail                   DELETE   401       403       403    ok    403         403     403
calendar-token                  GET      401       ok        ok     ok    ok          ok      ok
calendar-token                  POST     401       ok        ok     ok    ok          ok      ok
calendar-token                  DELETE   401       ok        ok     ok    ok          ok      ok
calendar-feed                   GET      ok        ok        ok     ok    ok          ok      ok
audit-list                      GET      401       403       403    403   403         ok      403
audit-detail                    GET      401       403       403    403   403         ok      403
audit-verify                    GET      401       403       403    403   403         ok      403
runbook-list                    GET      401       ok        ok     ok    ok          ok      ok
runbook-list                    POST     401       ok        ok     ok    ok          403     ok
runbook-detail                  GET      401       ok        ok     ok    ok          ok      404
runbook-version                 GET      401       ok        ok     ok    ok          ok      404
runbook-versions                POST     401       ok        ok     ok    ok          403     404
runbook-approve                 POST     401       404       ok     ok    403         403     404
deployment-list                 GET      401       ok        ok     ok    ok          ok      ok
deployment-list                 POST     401       403       403    403   ok          403     404
deployment-detail               GET      401       ok        ok     ok    ok          ok      404
deployment-answer               POST     401       403       403    403   ok          403     404
deployment-abort                POST     401       403       403    ok    ok          403     404
deployment-retry                POST     401       403       403    403   ok          403     404
deployment-extend               POST     401       403       403    ok    403         403     404
change-plan                     GET      401       ok        ok     ok    ok          ok      404
change-arm                      POST     401       403       403    403   ok          403     404
change-arm                      DELETE   401       403       403    403   ok          403     404
change-accept-drift             POST     401       403       403    ok    403         403     404
schema                          GET      401       ok        ok     ok    ok          ok      ok
api-docs                        GET      401       ok        ok     ok    ok          ok      ok
"""
# Notes on rows that are not obvious:
# - api-token is how a client signs in, so it is open to anonymous callers by design (the one
#   exception to "anonymous is denied everywhere"); every persona posts alice's credentials.
# - Boards, services and templates are reference data every signed-in person may read: anyone may
#   file a change and must pick a board and services (ccb/selectors.py board_list).
# - Board and service writes belong to administrators alone; a board's chair may also save its
#   standard templates, because saving one is the board's pre-approval (services/boards.py).
# - Any signed-in person may file a change and write a runbook for it; the auditor changes nothing.
# - A condition of an approval is attested by the change's requester or its implementer.
# - Runbooks are read by their board's role holders, their author, and the requester and implementer
#   of a change that links them: alice reads the runbook her change runs, not others.
# - The audit trail spans every board, so only site auditors (grace, through the Auditors group)
#   read it; chairs and members follow a change's events on the change itself.
# - runbook-approve uses a fresh, unapproved runbook frank wrote: frank may not approve his own
#   version (runbook_author_cannot_approve) and the auditor changes nothing.
# - change-retrospective uses a submitted emergency change (only emergency changes owe one).
# - change-satisfy-condition uses the change after erin approved it with one condition.
# - change-schedule sends planned_start only (the end follows from the runbook); the change is not yet
#   approved, so the implementer and the chair get past authorization to a 409.
# - change-slots is a read: whoever sees the change may ask when it could run.
# - Maintenance windows and freezes are read by everyone who can see the services (anyone filing a
#   change must know when it may run); they are written by the chair of the services' board and by
#   administrators (DESIGN "Windows and scheduling"); DELETE deactivates rather than erases.
# - Deployment runs are seen by whoever sees their change. A run is started, retried and armed by the
#   change's implementer alone; aborted by the implementer or the chair; a held run is given more time
#   by the chair; a gate is answered by the role its runbook names (here the implementer, with
#   not_starter false, so frank who started it may answer). accept-drift is the chair's; with no drift
#   it gets past authorization to a 409. retry and extend on a run that is neither
#   paused nor held get past authorization to a 409.
# - calendar-token manages the caller's own feed secret, so every signed-in person, the auditor
#   included, may read, rotate and revoke theirs: it grants reading only what they already read.
# - calendar-feed is what a calendar app fetches without signing in: the secret in the URL (alice's
#   here) is the only credential, so every persona, anonymous included, gets alice's feed.


def _parse(rows):
    lines = [line.split() for line in rows.strip().splitlines()]
    header, body = lines[0], lines[1:]
    assert tuple(header[2:]) == PERSONAS, header
    table = {}
    for route, method, *cells in body:
        assert (route, method) not in table, f"duplicate row {route} {method}"
        assert len(cells) == len(PERSONAS), f"row {route} {method} needs {len(PERSONAS)} cells"
        assert set(cells) <= {"ok", "401", "403", "404"}, f"row {route} {method}: {cells}"
        table[(route, method)] = dict(zip(PERSONAS, cells, strict=True))
    return table


EXPECTED = _parse(_ROWS)

# (route, method, persona) -> why the code's answer breaks a product rule. The table above holds the
# answer the rules require; these cases are expected to fail until the code is fixed.
KNOWN_VIOLATIONS: dict[tuple[str, str, str], str] = {}


# --- routes from the resolver -----------------------------------------------------------------


def _view_methods(callback):
    actions = getattr(callback, "actions", None)  # a DRF viewset route: {"get": "list", ...}
    if actions:
        methods = {m.upper() for m in actions}
    else:
        cls = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if cls is None:
            methods = set(ANY_METHOD)
        else:
            methods = {m.upper() for m in cls.http_method_names if hasattr(cls, m)}
    return sorted(methods - IGNORED_METHODS)


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def api_routes():
    """{(route name or full pattern, METHOD): full pattern} for every route under api/."""
    found, patterns_by_key = {}, {}
    for full, p in _walk(get_resolver().url_patterns):
        if not full.startswith("api/"):
            continue
        key = p.name or full
        if patterns_by_key.setdefault(key, full) != full:
            key = full  # a reused name: fall back to the pattern so neither route hides the other
        for method in _view_methods(p.callback):
            found[(key, method)] = full
    return found


ROUTES = api_routes()


def test_every_api_route_has_an_authorization_decision():
    missing = sorted(set(ROUTES) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(ROUTES))
    problems = [f"  no expectation for {key[1]} {ROUTES[key]} (route {key[0]!r})" for key in missing]
    problems += [f"  expectation for {key[1]} {key[0]!r}, which the resolver no longer has" for key in stale]
    problems += [
        f"  KNOWN_VIOLATIONS entry {key} has no matrix case"
        for key in KNOWN_VIOLATIONS
        if key[:2] not in EXPECTED or key[2] not in PERSONAS
    ]
    assert not problems, "The API authorization matrix is out of date:\n" + "\n".join(problems)


def test_the_matrix_found_the_routes_it_should():
    """A guard against the walk itself breaking and silently finding nothing."""
    assert ("change-votes", "POST") in ROUTES
    assert ("runbook-approve", "POST") in ROUTES  # deployments/api/urls.py
    assert ("schema", "GET") in ROUTES and ("api-docs", "GET") in ROUTES
    assert len(ROUTES) >= 40


# --- the objects each request needs -----------------------------------------------------------


class World:
    """Builds, on first use, only the objects a case needs, from the shared fixtures."""

    def __init__(self, request):
        self._request = request
        self._cache = {}

    def fixture(self, name):
        return self._request.getfixturevalue(name)

    def _once(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def people(self):
        return self.fixture("people")

    @property
    def board(self):
        return self.fixture("board")

    @property
    def service(self):
        return self.fixture("service_map")["api"]

    @property
    def runbook_version(self):
        return self.fixture("runbook")

    @property
    def change(self):
        return self.fixture("submitted")

    @property
    def attachment(self):
        return self.change.attachments.get(kind="validation_report")

    @property
    def template(self):
        return self._once(
            "template",
            lambda: services.template_save(
                actor=self.fixture("admin_user"),
                data={
                    "board": self.board,
                    "name": "Weekly patch",
                    "environment": "production",
                    "runbook_version": self.runbook_version.pk,
                    "max_risk": "low",
                },
                services=[self.service],
            ),
        )

    @property
    def emergency_change(self):
        def build():
            change = self.fixture("make_change")(change_type="emergency", title="Hotfix the fraud model")
            return services.change_request_submit(change_id=change.pk, actor=self.people["alice"])

        return self._once("emergency", build)

    @property
    def conditional_change(self):
        def build():
            change = self.change
            services.change_request_decide(
                change_id=change.pk,
                actor=self.people["erin"],
                outcome="approved_with_conditions",
                rationale="Watch the canary.",
                conditions=[{"text": "Page the on-call before the canary."}],
            )
            return change

        return self._once("conditional", build)

    @property
    def unapproved_runbook(self):
        return self._once(
            "unapproved_runbook",
            lambda: (
                runbook_services.runbook_create(
                    actor=self.people["frank"],
                    board=self.board,
                    name="Blue-green",
                    description="",
                    source_yaml=RUNBOOK_YAML,
                ).runbook
            ),
        )

    @property
    def window(self):
        return self._once(
            "window",
            lambda: services.maintenance_window_save(
                actor=self.fixture("admin_user"),
                data={
                    "service": self.service,
                    "environment": "production",
                    "name": "Sunday night",
                    "time_zone": "Europe/London",
                    "dtstart": datetime(2026, 3, 1, 1, 0),
                    "duration_minutes": 240,
                    "rrule": "FREQ=WEEKLY;BYDAY=SU",
                },
            ),
        )

    @property
    def freeze(self):
        return self._once(
            "freeze",
            lambda: services.freeze_save(
                actor=self.fixture("admin_user"),
                data={
                    "name": "Year-end",
                    "reason": "Trading peak.",
                    "board": self.board,
                    "start": timezone.now() + timedelta(days=30),
                    "end": timezone.now() + timedelta(days=40),
                },
            ),
        )

    @property
    def scheduled_change(self):
        from ..deployments.helpers import deployable_change

        self.fixture("windows")
        return self._once(
            "scheduled",
            lambda: deployable_change(
                make_change=self.fixture("make_change"),
                approve=self.fixture("approve"),
                board=self.board,
                people=self.people,
            ),
        )

    @property
    def deployment(self):
        from ..deployments.helpers import started_at_its_gate

        return self._once("deployment", lambda: started_at_its_gate(self.scheduled_change, self.people))

    @property
    def calendar_token(self):
        return self._once("calendar_token", lambda: services.calendar_token_rotate(actor=self.people["alice"]).key)

    @property
    def audit_seq(self):
        self.board  # noqa: B018 -- creating the board writes the first events of the chain
        return AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()


# The change a /changes/{pk}/ route acts on, when it is not the submitted one.
CHANGE_FOR_ROUTE = {
    "change-plan": lambda w: w.scheduled_change,
    "change-arm": lambda w: w.scheduled_change,
    "change-accept-drift": lambda w: w.scheduled_change,
    "change-retrospective": lambda w: w.emergency_change,
    "change-satisfy-condition": lambda w: w.conditional_change,
}


def _url_kwargs(route, pattern, w):
    resolver_pattern = next(p for full, p in _walk(get_resolver().url_patterns) if full == pattern)
    names = list(resolver_pattern.pattern.regex.groupindex)
    kwargs = {}
    for name in names:
        if name == "pk":
            basename = route.split("-", 1)[0]
            if basename == "change":
                value = CHANGE_FOR_ROUTE.get(route, lambda w: w.change)(w).pk
            elif basename == "runbook":
                if route == "runbook-approve":
                    value = w.unapproved_runbook.pk
                else:
                    value = execution.runbook_of(change=w.change).runbook_id  # the runbook alice's change runs
            else:
                make = {
                    "board": lambda: w.board.pk,
                    "service": lambda: w.service.pk,
                    "template": lambda: w.template.pk,
                    "audit": lambda: w.audit_seq,
                    "window": lambda: w.window.pk,
                    "freeze": lambda: w.freeze.pk,
                    "deployment": lambda: w.deployment.pk,
                }.get(basename)
                if make is None:
                    pytest.fail(f"{route}: no object for its pk; teach _url_kwargs which object {basename} is")
                value = make()
        elif name == "attachment_id":
            value = w.attachment.pk
        elif name == "condition_id":
            value = w.conditional_change.conditions.get().pk
        elif name == "number":
            value = 1
        elif name == "position":
            value = w.deployment.steps.get(type="manual_gate").position
        elif name == "token":
            value = w.calendar_token
        else:
            pytest.fail(f"{route}: no object for the URL argument {name!r}; teach _url_kwargs about it")
        kwargs[name] = value
    return kwargs


def _soon(days, hours=0):
    return (timezone.now() + timedelta(days=days, hours=hours)).isoformat()


# What each write sends: a body that an allowed persona could act on, so that input validation (400)
# never stands in for an authorization decision. (payload builder, format)
BODIES = {
    ("api-token", "POST"): (lambda w: {"username": "alice", "password": PASSWORD}, "json"),
    ("board-list", "POST"): (lambda w: {"name": "Mobile CCB", "slug": "mobile-ccb"}, "json"),
    ("board-detail", "PATCH"): (lambda w: {"description": "Edited."}, "json"),
    ("service-list", "POST"): (
        lambda w: {"name": "Payments", "slug": "payments", "board": w.board.pk, "criticality": "tier2"},
        "json",
    ),
    ("service-detail", "PATCH"): (lambda w: {"description": "Edited."}, "json"),
    ("template-list", "POST"): (
        lambda w: {
            "board": w.board.pk,
            "name": "Rotate certificates",
            "environment": "production",
            "max_risk": "low",
            "runbook_version": w.runbook_version.pk,
            "services": [w.service.slug],
        },
        "json",
    ),
    ("template-detail", "PATCH"): (lambda w: {"description": "Edited."}, "json"),
    ("change-list", "POST"): (lambda w: {"board": w.board.pk, "title": "Rotate the signing keys"}, "json"),
    ("change-detail", "PATCH"): (lambda w: {"summary": "Canary the new model, slowly."}, "json"),
    ("change-attachments", "POST"): (lambda w: {"file": pdf_upload("evidence.pdf"), "kind": "evidence"}, "multipart"),
    ("change-submit", "POST"): (lambda w: {}, "json"),
    ("change-revise", "POST"): (lambda w: {}, "json"),
    ("change-withdraw", "POST"): (lambda w: {"reason": "No longer needed."}, "json"),
    ("change-review", "POST"): (lambda w: {}, "json"),
    ("change-votes", "POST"): (lambda w: {"decision": "approve", "comment": ""}, "json"),
    ("change-decide", "POST"): (lambda w: {"outcome": "approved", "rationale": "Low risk, rehearsed."}, "json"),
    ("change-satisfy-condition", "POST"): (lambda w: {"evidence": "https://oncall.example.com/page/1"}, "json"),
    ("change-schedule", "POST"): (lambda w: {"planned_start": _soon(2)}, "json"),
    ("window-list", "POST"): (
        lambda w: {
            "service": w.service.slug,
            "environment": "production",
            "name": "Tuesday night",
            "time_zone": "Europe/London",
            "dtstart": "2026-03-03T22:00",
            "duration_minutes": 240,
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "exdates": ["2026-12-29"],
        },
        "json",
    ),
    ("window-detail", "PATCH"): (lambda w: {"description": "Edited."}, "json"),
    ("window-detail", "DELETE"): (lambda w: {}, "json"),
    ("freeze-list", "POST"): (
        lambda w: {
            "name": "Quarter close",
            "reason": "Finance closes the books.",
            "board": w.board.pk,
            "services": [w.service.slug],
            "start": _soon(60),
            "end": _soon(63),
        },
        "json",
    ),
    ("freeze-detail", "PATCH"): (lambda w: {"reason": "Trading peak, extended."}, "json"),
    ("freeze-detail", "DELETE"): (lambda w: {}, "json"),
    ("calendar-token", "POST"): (lambda w: {}, "json"),
    ("calendar-token", "DELETE"): (lambda w: {}, "json"),
    ("change-close", "POST"): (
        lambda w: {
            "review": "Went to plan.",
            "smoke_tests_passed": True,
            "monitoring_normal": True,
            "notifications_sent": True,
        },
        "json",
    ),
    ("change-retrospective", "POST"): (lambda w: {"notes": "The board reviewed the hotfix."}, "json"),
    ("runbook-list", "POST"): (lambda w: {"board": w.board.pk, "name": "Linear", "source_yaml": RUNBOOK_YAML}, "json"),
    ("runbook-versions", "POST"): (lambda w: {"source_yaml": RUNBOOK_YAML}, "json"),
    ("runbook-approve", "POST"): (lambda w: {}, "json"),
    ("deployment-list", "POST"): (lambda w: {"change": w.scheduled_change.pk}, "json"),
    ("deployment-answer", "POST"): (lambda w: {"answer": "go", "comment": "Healthy."}, "json"),
    ("deployment-abort", "POST"): (lambda w: {"reason": "Customer complaints."}, "json"),
    ("deployment-retry", "POST"): (lambda w: {}, "json"),
    ("deployment-extend", "POST"): (lambda w: {"minutes": 30, "reason": "Finish tonight."}, "json"),
    ("change-arm", "POST"): (lambda w: {}, "json"),
    ("change-arm", "DELETE"): (lambda w: {}, "json"),
    ("change-accept-drift", "POST"): (lambda w: {"reason": "The new alarm threshold is expected."}, "json"),
}


# --- the matrix -------------------------------------------------------------------------------


def _cases():
    for key in sorted(ROUTES):
        if key not in EXPECTED:  # one failing case, not seven: the decision is missing, not a persona's answer
            yield pytest.param(key[0], key[1], None, id=f"{key[1]} {key[0]} undecided")
            continue
        for persona in PERSONAS:
            marks = []
            if (*key, persona) in KNOWN_VIOLATIONS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[(*key, persona)]))
            yield pytest.param(key[0], key[1], persona, id=f"{key[1]} {key[0]} as {persona}", marks=marks)


def _outcome(status_code):
    if status_code in (401, 403, 404):
        return str(status_code)
    return "ok"


def _list_ids(payload):
    items = payload["results"] if isinstance(payload, dict) else payload
    return {item.get("id", item.get("seq")) for item in items}


def _refusals():
    return [json.loads(e.data).get("rule") for e in AuditEvent.objects.filter(action=AuditAction.POLICY_REFUSED)]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "persona"), list(_cases()))
def test_authorization_matrix(route, method, persona, request, api):
    key = (route, method)
    if key not in EXPECTED:
        pytest.fail(f"No authorization decision for {method} {ROUTES[key]}: add a row to the matrix.")
    expected = EXPECTED[key][persona]
    if method != "GET" and key not in BODIES:
        pytest.fail(
            f"No request body for {method} {route}: add one to BODIES that an allowed persona "
            "could act on, so that a 400 cannot pass for an authorization decision."
        )

    w = World(request)
    people = w.people
    w.board  # noqa: B018 -- the personas' roles live on the board
    url = reverse(route, kwargs=_url_kwargs(route, ROUTES[key], w))
    # A list must show exactly what the detail route lets this persona see: build that object first.
    detail = (route.removesuffix("-list") + "-detail", "GET")
    listed_pk = None
    if method == "GET" and route.endswith("-list") and detail in ROUTES and detail in EXPECTED:
        listed_pk = _url_kwargs(detail[0], ROUTES[detail], w)["pk"]
    build, fmt = BODIES.get(key, (lambda w: None, None))
    data = build(w)
    cache.clear()  # the token endpoint's anonymous throttle must not carry over from other tests
    refusals_before = _refusals()

    user = people[USERNAME[persona]] if USERNAME[persona] else None
    client = api(user)
    call = getattr(client, method.lower())
    response = call(url, data, format=fmt) if data is not None else call(url)
    # Reading a streamed body to its end lets the test client close it (and the file) the way it
    # closes every other response; closing it by hand here would fire request_finished with
    # close_old_connections attached, which drops PostgreSQL's connection inside the test transaction.
    body = b"".join(response.streaming_content) if response.streaming else response.content
    status_code = response.status_code

    assert status_code < 500, f"{method} {url} as {persona}: {status_code} {body[:500]!r}"
    got = _outcome(status_code)
    assert got == expected, (
        f"{method} {url} as {persona} ({USERNAME[persona]}): expected "
        f"{'allowed' if expected == 'ok' else expected}, got {status_code} {body[:500]!r}"
    )
    if status_code == 403:
        rule = response.json().get("rule")
        assert rule, f"{method} {url} as {persona}: a 403 without the rule's name: {body!r}"
        assert _refusals().count(rule) == refusals_before.count(rule) + 1, (
            f"{method} {url} as {persona}: the refusal {rule!r} wrote no audit event"
        )
    if listed_pk is not None and got == "ok":
        visible = EXPECTED[detail][persona] == "ok"
        ids = _list_ids(response.json())
        assert (listed_pk in ids) == visible, (
            f"GET {url} as {persona}: object {listed_pk} {'missing from' if visible else 'leaks into'} the list "
            f"(its detail route answers {EXPECTED[detail][persona]})"
        )


# The rows where every persona is refused must not pass only because the route refuses everyone:
# an administrator gets through each of them.
ADMIN_ONLY = sorted(
    key for key, row in EXPECTED.items() if set(row.values()) <= {"401", "403", "404"} and row["anonymous"] == "401"
)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), ADMIN_ONLY, ids=[f"{m} {r}" for r, m in ADMIN_ONLY])
def test_an_administrator_passes_where_every_persona_is_refused(route, method, request, api):
    w = World(request)
    w.board  # noqa: B018
    url = reverse(route, kwargs=_url_kwargs(route, ROUTES[(route, method)], w))
    build, fmt = BODIES[(route, method)]
    response = getattr(api(w.fixture("admin_user")), method.lower())(url, build(w), format=fmt)
    assert 200 <= response.status_code < 300, response.content


# --- beyond the single-board matrix: a role on another board grants nothing on this one ------------


@pytest.fixture
def other_board(admin_user, people, board):
    """A second board, chaired by oscar and audited by vera; neither holds a role on the Production CCB."""
    from ccb.choices import BoardRole

    from ..factories import UserFactory

    people["vera"] = UserFactory(username="vera")
    mobile = services.board_save(actor=admin_user, data={"name": "Mobile CCB", "slug": "mobile-ccb"})
    services.board_role_grant(actor=admin_user, board=mobile, user=people["oscar"], role=BoardRole.CHAIR)
    services.board_role_grant(actor=admin_user, board=mobile, user=people["vera"], role=BoardRole.AUDITOR)
    return mobile


@pytest.mark.django_db
def test_a_chair_cannot_take_over_another_boards_template(api, board, other_board, admin_user, people, runbook):
    template = services.template_save(
        actor=admin_user,
        data={"board": board, "name": "Weekly patch", "runbook_version": runbook.pk, "max_risk": "low"},
    )
    r = api(people["oscar"]).patch(
        f"/api/v1/templates/{template.pk}/", {"board": other_board.pk, "max_risk": "critical"}, format="json"
    )
    assert r.status_code == 403, r.content
    assert r.json()["rule"] == "board_admin_only"
    template.refresh_from_db()
    assert (template.board_id, template.max_risk) == (board.pk, "low")


@pytest.mark.django_db
@pytest.mark.parametrize("reader", ["oscar", "vera"], ids=["chair of another board", "auditor of another board"])
def test_the_audit_trail_does_not_reveal_a_hidden_change(api, other_board, people, submitted, reader):
    client = api(people[reader])
    assert client.get(f"/api/v1/changes/{submitted.pk}/").status_code == 404
    r = client.get(f"/api/v1/audit/?change={submitted.pk}")
    assert r.status_code in (403, 404) or r.json()["count"] == 0, r.content[:300]


@pytest.fixture
def other_boards_runbook(other_board, people):
    """A runbook of the Mobile CCB written by its chair oscar, with one unapproved version."""
    return runbook_services.runbook_create(
        actor=people["oscar"], board=other_board, name="Mobile canary", description="", source_yaml=RUNBOOK_YAML
    )


@pytest.mark.django_db
def test_a_change_cannot_link_another_boards_runbook(api, board, other_boards_runbook, people):
    client = api(people["alice"])
    r = client.post(
        "/api/v1/changes/",
        {"board": board.pk, "title": "Borrow a runbook", "runbook_version": other_boards_runbook.pk},
        format="json",
    )
    assert r.status_code == 400, r.content
    assert "runbook_version" in r.json() and "Mobile CCB" in " ".join(r.json()["runbook_version"])
    # and the requester learns nothing of it through a change of her own
    assert client.get(f"/api/v1/runbooks/{other_boards_runbook.runbook_id}/").status_code == 404


@pytest.mark.django_db
def test_an_edit_cannot_link_another_boards_runbook_either(api, make_change, other_boards_runbook, people):
    change = make_change()
    r = api(people["alice"]).patch(
        f"/api/v1/changes/{change.pk}/", {"runbook_version": other_boards_runbook.pk}, format="json"
    )
    assert r.status_code == 400, r.content
    assert "runbook_version" in r.json()
    change.refresh_from_db()
    assert execution.runbook_of(change=change).version_id != other_boards_runbook.pk


@pytest.mark.django_db
def test_a_requester_cannot_link_an_unapproved_runbook_someone_else_wrote(api, board, people):
    version = runbook_services.runbook_create(
        actor=people["frank"], board=board, name="Work in progress", description="", source_yaml=RUNBOOK_YAML
    )
    client = api(people["alice"])
    r = client.post(
        "/api/v1/changes/", {"board": board.pk, "title": "Peek", "runbook_version": version.pk}, format="json"
    )
    assert r.status_code == 400, r.content
    assert "approved" in " ".join(r.json()["runbook_version"])
    assert client.get(f"/api/v1/runbooks/{version.runbook_id}/").status_code == 404


@pytest.mark.django_db
def test_a_requester_links_her_own_draft_runbook_or_the_boards_approved_ones(api, board, runbook, people):
    own = runbook_services.runbook_create(
        actor=people["alice"], board=board, name="Alice's plan", description="", source_yaml=RUNBOOK_YAML
    )
    client = api(people["alice"])
    for version in (own, runbook):
        r = client.post(
            "/api/v1/changes/", {"board": board.pk, "title": "Link", "runbook_version": version.pk}, format="json"
        )
        assert r.status_code == 201, r.content
