"""notify: tell people how the deployment is going, through ccb's notifications.

The engine gives the step ``ctx.services["notify"]``, a callable taking keyword arguments:

    notify(event="deployment_progress" | "customer_notification",
           audience=["change", "board", "services"],   # who, as notifications.services.notify() resolves them:
                                                       # the change's subscribers (requester, implementer,
                                                       # followers), the board's members and followers, the
                                                       # affected services' followers (and, for
                                                       # customer_notification, their customer subscribers)
           emails=["ops@example.com"],                 # plain addresses besides
           message="Canary at 10%, error rate normal.",
           context={"message": ..., "stage": ..., "step": ...},   # for the templates
           key=ctx.idempotency_key)                    # the same on every call of this step run
    -> list of outbox ids

and must send once per ``key``: either it writes in the same transaction as the step's state, or a
second call with the same key returns the first call's ids without writing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import Outcome, Params, Plan, StepContext, StepType, register

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class NotifyParams(Params):
    event: Literal["deployment_progress", "customer_notification"] = Field(
        "deployment_progress",
        description="deployment_progress (a line about the run) or customer_notification (to the services' customers).",
    )
    message: str = Field(min_length=1, max_length=4000, description="What the message says.")
    audience: list[Literal["change", "board", "services"]] = Field(
        default_factory=lambda: ["change"],
        max_length=3,
        description="Who hears it: the change's subscribers, the board's members, the affected services' followers.",
    )
    emails: list[Email] = Field(default_factory=list, max_length=50, description="Plain addresses besides.")


@register("notify")
class Notify(StepType):
    params = NotifyParams
    summary = "Tell the change's people, the board, the services' followers or addresses how the run is going."
    kind = "action"

    def planned_seconds(self, params: NotifyParams) -> int:  # type: ignore[override]
        return 0

    def rollback_seconds(self, params: NotifyParams) -> int:  # type: ignore[override]
        return 0

    def rollback_summary(self, params: NotifyParams) -> str:  # type: ignore[override]
        return "Nothing to undo: a message sent stays sent."

    def _who(self, p: NotifyParams) -> str:
        return ", ".join([*p.audience, *p.emails]) or "nobody"

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        return Plan(
            summary=f"Tell {self._who(p)} ({p.event}): {p.message}",
            after={"event": p.event, "audience": list(p.audience), "emails": list(p.emails), "message": p.message},
        )

    def execute(self, ctx: StepContext) -> Outcome:
        p = ctx.p
        if "sent" in ctx.state:
            return Outcome.done(f"Already sent to {ctx.state['sent']['count']} recipient(s).", **ctx.state["sent"])
        notify = ctx.services.get("notify")
        if notify is None:
            return Outcome.failed("No way to send notifications was given to the step.")
        context = {"message": p.message, **{k: ctx.labels[k] for k in ("stage", "step") if k in ctx.labels}}
        ids = list(
            notify(
                event=p.event,
                audience=list(p.audience),
                emails=list(p.emails),
                message=p.message,
                context=context,
                key=ctx.idempotency_key,
            )
            or []
        )
        sent = {"event": p.event, "count": len(ids), "outbox_ids": ids[:100]}
        ctx.state["sent"] = sent
        ctx.log(f"Told {self._who(p)} ({len(ids)} message(s)): {p.message}", **sent)
        return Outcome.done(f"Sent {len(ids)} message(s).", **sent)
