"""Every operation in the OpenAPI schema, run by schemathesis against the real Django app (pytest-django's
live server on loopback, on the test database) as a board member and as a requester, with every check.

Schemathesis's own engine runs its examples, coverage and fuzzing phases, as its command line does;
examples are bounded and derandomised, so a run is the same each time and fits in CI. The test prints what
schemathesis reported: operations, examples sent, and each failure with the operation and check.
"""

from collections import Counter

import pytest
import schemathesis
from rest_framework.authtoken.models import Token
from schemathesis.engine import Status, events, from_schema

from ccb import services

MAX_EXAMPLES = 5


def run_schemathesis(base_url: str, headers: dict[str, str]) -> dict:
    config = schemathesis.Config.from_dict(
        {
            "headers": headers,
            "continue-on-failure": True,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json", headers=headers, config=config)
    operations, examples, failures, errors = set(), 0, Counter(), []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.recorder is not None:
            recorder = event.recorder
            if recorder.cases:
                operations.add(recorder.label)
            examples += len(recorder.interactions)
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE:
                        info = check.failure_info
                        title = info.failure.title if info is not None else ""
                        failures[f"{recorder.label}: {check.name}: {title}"] += 1
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    return {"operations": operations, "examples": examples, "failures": failures, "errors": errors}


def report(who: str, result: dict) -> str:
    lines = [
        f"schemathesis as {who}: {len(result['operations'])} operations, {result['examples']} examples, "
        f"{len(result['failures'])} distinct failures, {len(result['errors'])} errors"
    ]
    lines += [f"  FAIL x{n} {name}" for name, n in sorted(result["failures"].items())]
    lines += [f"  ERROR {e}" for e in result["errors"]]
    return "\n".join(lines)


@pytest.mark.parametrize("who", ["bob", "alice"], ids=["board-member", "requester"])
def test_every_operation_answers_as_its_schema_says(who, live_server, people, submitted, windows, capsys):
    """bob sits on the board that reviews alice's change (on the agenda); alice filed it."""
    services.change_request_start_review(change_id=submitted.pk, actor=people["erin"])
    token, _ = Token.objects.get_or_create(user=people[who])
    result = run_schemathesis(live_server.url, {"Authorization": f"Token {token.key}"})
    summary = report(who, result)
    with capsys.disabled():
        print("\n" + summary)
    assert len(result["operations"]) >= 50, summary
    assert not result["failures"] and not result["errors"], summary
