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

MAX_EXAMPLES = 6
WRITE_ANSWERS = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def run_schemathesis(base_url: str, headers: dict[str, str]) -> dict:
    config = schemathesis.Config.from_dict(
        {
            "headers": headers,
            "continue-on-failure": True,
            "cache": {"enabled": False},  # each run starts from nothing it saw before
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # The coverage phase adds thousands of cases max-examples does not bound (21 minutes here):
            # examples and fuzzing run, bounded.
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            # A write can be schema-valid and still refer to a board, service or person that does not
            # exist, or break a rule across fields (a freeze that ends before it starts): a 400 naming the
            # field is the right answer there. Reads stay strict: every query parameter is in the schema.
            "operations": [
                {
                    "include-method": ["POST", "PATCH", "DELETE"],
                    "checks": {"positive_data_acceptance": {"expected-statuses": WRITE_ANSWERS}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json", headers=headers, config=config)
    operations, examples, failures, errors, samples = set(), 0, Counter(), [], {}
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
                        key = f"{recorder.label}: {check.name}: {title}"
                        failures[key] += 1
                        if key not in samples and info is not None:
                            samples[key] = f"{info.failure.message[:400]}\n      {info.code_sample[:600]}"
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    return {"operations": operations, "examples": examples, "failures": failures, "errors": errors, "samples": samples}


def report(who: str, result: dict) -> str:
    lines = [
        f"schemathesis as {who}: {len(result['operations'])} operations, {result['examples']} examples, "
        f"{len(result['failures'])} distinct failures, {len(result['errors'])} errors"
    ]
    for name, n in sorted(result["failures"].items()):
        lines.append(f"  FAIL x{n} {name}")
        if name in result["samples"]:
            lines.append("      " + result["samples"][name].replace("\n", "\n      "))
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
