"""Step types that need no cloud: wait, the manual go/no-go gate, and the HTTP smoke test."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Literal

from pydantic import Field, HttpUrl

from .base import Outcome, Params, Plan, StepContext, StepType, register


class WaitParams(Params):
    seconds: int = Field(ge=1, le=7 * 86400, description="How long to wait.")
    reason: str = Field("", max_length=500)


@register("wait")
class Wait(StepType):
    params = WaitParams
    summary = "Wait a stated time (a bake with nothing to watch, time for caches to expire)."
    kind = "check"

    def planned_seconds(self, params: WaitParams) -> int:  # type: ignore[override]
        return params.seconds

    def plan(self, ctx: StepContext) -> Plan:
        return Plan(summary=f"Wait {ctx.p.seconds} s" + (f": {ctx.p.reason}" if ctx.p.reason else "."))

    def execute(self, ctx: StepContext) -> Outcome:
        if "until" not in ctx.state:
            ctx.state["until"] = (ctx.now() + timedelta(seconds=ctx.p.seconds)).isoformat()
        left = _seconds_until(ctx, ctx.state["until"])
        if left > 0 and not ctx.fast:
            return Outcome.wait(left, f"Waiting {left} s more.")
        return Outcome.done(f"Waited {ctx.p.seconds} s.")


class GateParams(Params):
    role: Literal["implementer", "verifier", "chair", "member"]
    question: str = Field(min_length=1, max_length=500)
    not_starter: bool = True


@register("manual_gate")
class ManualGate(StepType):
    """A go/no-go answered by a person: the engine checks who may answer (the role the runbook names;
    never an approver of the change; not the person who started the run when ``not_starter``) and puts
    the answer in ``ctx.state["answer"]``."""

    params = GateParams
    summary = "A go/no-go decision answered in the browser or over the API by the role the runbook names."
    kind = "gate"

    def planned_seconds(self, params: GateParams) -> int:  # type: ignore[override]
        return 0

    def plan(self, ctx: StepContext) -> Plan:
        who = f"the {ctx.p.role}" + (", not the person who started the run" if ctx.p.not_starter else "")
        return Plan(summary=f"Ask {who}: {ctx.p.question}")

    def execute(self, ctx: StepContext) -> Outcome:
        answer = ctx.state.get("answer")
        if answer is None:
            return Outcome.answer(f"Waiting for the {ctx.p.role}'s go/no-go: {ctx.p.question}")
        evidence = {k: answer.get(k) for k in ("answer", "by", "comment", "at")}
        if answer.get("answer") == "go":
            return Outcome.done(f"{answer.get('by')} answered go.", **evidence)
        return Outcome.failed(
            f"{answer.get('by')} answered no-go: {answer.get('comment') or 'no reason given'}", **evidence
        )


class SmokeParams(Params):
    url: HttpUrl
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    body_contains: str = Field("", max_length=2000, description="Text the response body must contain.")
    max_latency_ms: int = Field(5000, ge=1, le=120_000)
    attempts: int = Field(3, ge=1, le=20, description="Tries before the test fails.")
    retry_delay_seconds: int = Field(5, ge=0, le=600)
    timeout_seconds: int = Field(30, ge=1, le=600, description="Per request.")


@register("http_smoke")
class HttpSmoke(StepType):
    params = SmokeParams
    summary = "Call an address and check the status, the body and the time the answer took, with retries."
    kind = "check"

    def planned_seconds(self, params: SmokeParams) -> int:  # type: ignore[override]
        return params.attempts * (params.timeout_seconds + params.retry_delay_seconds)

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        want = f"status {'/'.join(map(str, p.expect_status))} within {p.max_latency_ms} ms"
        body = f", body containing {p.body_contains!r}" if p.body_contains else ""
        return Plan(summary=f"{p.method} {p.url}: expect {want}{body}, up to {p.attempts} attempts.")

    def execute(self, ctx: StepContext) -> Outcome:
        p = ctx.p
        tries = ctx.state.setdefault("tries", [])
        result = _probe(p)
        tries.append(result)
        ctx.log(f"{p.method} {p.url}: {result['verdict']}", **result)
        if result["ok"]:
            return Outcome.done(result["verdict"], responses=tries)
        if len(tries) >= p.attempts:
            return Outcome.failed(
                f"Smoke test failed after {len(tries)} attempts: {result['verdict']}", responses=tries
            )
        return Outcome.wait(max(p.retry_delay_seconds, 1), f"Attempt {len(tries)} failed; trying again.")


def _probe(p: SmokeParams) -> dict:
    request = urllib.request.Request(str(p.url), method=p.method)  # noqa: S310 - an http(s) URL, checked
    started = time.perf_counter()
    status, body, error = None, "", ""
    try:
        with urllib.request.urlopen(request, timeout=p.timeout_seconds) as response:  # noqa: S310
            status, body = response.status, response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(65536).decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))
    latency = round((time.perf_counter() - started) * 1000)
    problems = []
    if error:
        problems.append(f"no answer ({error})")
    else:
        if status not in p.expect_status:
            problems.append(f"status {status}, expected {'/'.join(map(str, p.expect_status))}")
        if p.body_contains and p.body_contains not in body:
            problems.append(f"body lacks {p.body_contains!r}")
        if latency > p.max_latency_ms:
            problems.append(f"took {latency} ms, over {p.max_latency_ms} ms")
    verdict = "; ".join(problems) or f"status {status} in {latency} ms"
    return {"ok": not problems, "status": status, "latency_ms": latency, "verdict": verdict, "body": body[:500]}


def _seconds_until(ctx: StepContext, iso: str) -> int:
    from datetime import datetime

    return max(0, int((datetime.fromisoformat(iso) - ctx.now()).total_seconds() + 0.999))
