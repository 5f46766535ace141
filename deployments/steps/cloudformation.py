"""cloudformation_stack: create or update a stack from a template given inline or in S3.

CloudFormation keeps only a stack's current template, so the first call records the stack as it stands
(its template text, byte for byte, its parameters and capabilities) and the engine commits that before
anything changes. Later calls create or update once (``ClientRequestToken`` derived from the step's
idempotency key; live state compared first, so a repeated call after a crash sends nothing again) and
hand back ``Outcome.wait`` while the stack is ``*_IN_PROGRESS``. Rollback re-applies the recorded
template and parameters, or deletes a stack the step created; an update still running is cancelled
and one whose own rollback failed is continued.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, model_validator

from deployments.aws import AwsError, parse_s3_url

from . import cfn_templates as templates
from .base import Outcome, Params, Plan, StepContext, StepType, register

OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
MASKED = "****"  # how CloudFormation shows a NoEcho parameter's value


class CloudFormationParams(Params):
    stack_name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$", description="The stack to create or update.")
    template_body: str | None = Field(
        None, min_length=1, max_length=templates.INLINE_LIMIT, description="The template itself (JSON or YAML)."
    )
    template_url: str | None = Field(
        None, pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$", description="Or where it is: s3://bucket/key."
    )
    parameters: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Stack parameters; a parameter of the stack not named here keeps its current value.",
    )
    capabilities: list[Literal["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]] = Field(
        default_factory=list, description="What the template is allowed to create (IAM resources, macros)."
    )
    expected_seconds: int = Field(900, ge=10, le=4 * 3600, description="How long the create or update should take.")
    poll_seconds: int = Field(15, ge=1, le=600, description="How often the stack's status is read while it changes.")

    @model_validator(mode="after")
    def _one_template(self) -> CloudFormationParams:
        if (self.template_body is None) == (self.template_url is None):
            raise ValueError("give the template as template_body or as template_url (s3://bucket/key), exactly one")
        return self


def token(key: str, purpose: str) -> str:
    """A ClientRequestToken for one operation of the step: [a-zA-Z0-9][-a-zA-Z0-9]*, at most 128."""
    base = key if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,99}", key) else "ccb-" + _sha(key)[:40]
    return f"{base}-{purpose}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _value(v: str | int | float | bool) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


@register("cloudformation_stack")
class CloudFormationStack(StepType):
    params = CloudFormationParams
    summary = "Create or update a CloudFormation stack; roll back by re-applying the template it had."
    kind = "action"

    def planned_seconds(self, params: CloudFormationParams) -> int:  # type: ignore[override]
        return params.expected_seconds

    def rollback_seconds(self, params: CloudFormationParams) -> int:  # type: ignore[override]
        return params.expected_seconds

    def rollback_summary(self, params: CloudFormationParams) -> str:  # type: ignore[override]
        return (
            f"Re-apply stack {params.stack_name}'s previous template and parameters "
            "(or delete it if this step created it)."
        )

    # --- reading -----------------------------------------------------------------------------------------

    def _stack(self, ctx: StepContext) -> dict | None:
        name = ctx.state.get("stack_id") or (ctx.state.get("before") or {}).get("stack_id") or ctx.p.stack_name
        try:
            stacks = ctx.aws.cloudformation.describe_stacks(StackName=name)["Stacks"]
        except AwsError as exc:
            if exc.code == "ValidationError" and "does not exist" in exc.message:
                return None
            raise
        return stacks[0] if stacks and stacks[0]["StackStatus"] != "DELETE_COMPLETE" else None

    def _live_template(self, ctx: StepContext, stack: dict) -> str:
        return ctx.aws.cloudformation.get_template(StackName=stack["StackId"])["TemplateBody"]

    def _desired(self, ctx: StepContext) -> str:
        if ctx.p.template_body is not None:
            return ctx.p.template_body
        return ctx.aws.read_s3(ctx.p.template_url).body.decode("utf-8")

    def _template_args(self, ctx: StepContext, text: str, url: str | None) -> dict:
        if len(text.encode()) <= templates.INLINE_LIMIT:
            return {"TemplateBody": text}
        bucket, key = parse_s3_url(url or "")
        return {"TemplateURL": f"https://{bucket}.s3.{ctx.aws.region}.amazonaws.com/{quote(key)}"}

    def _parameters(self, ctx: StepContext, text: str, stack: dict | None) -> list[dict]:
        given = {k: _value(v) for k, v in ctx.p.parameters.items()}
        out = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
        if stack is not None:  # the stack's other parameters keep their values, as `aws cloudformation deploy` does
            wanted = templates.parameter_names(text)
            for p in stack.get("Parameters", []):
                if p["ParameterKey"] not in given and p["ParameterKey"] in wanted:
                    out.append({"ParameterKey": p["ParameterKey"], "UsePreviousValue": True})
        return out

    def _applied(self, ctx: StepContext, stack: dict, text: str) -> bool:
        if templates.digest(self._live_template(ctx, stack)) != templates.digest(text):
            return False
        live = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        return all(live.get(k) in (_value(v), MASKED) for k, v in ctx.p.parameters.items())

    def _failure_reasons(self, ctx: StepContext, stack: dict) -> list[str]:
        events = ctx.aws.cloudformation.describe_stack_events(StackName=stack["StackId"]).get("StackEvents", [])
        failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
        return [f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}" for e in failed[:5]]

    def _issued_by_token(self, ctx: StepContext, stack: dict, purpose: str) -> bool:
        """Did CloudFormation see our request (a crash may have lost our note of sending it)?"""
        mine = token(ctx.idempotency_key, purpose)
        events = ctx.aws.cloudformation.describe_stack_events(StackName=stack["StackId"]).get("StackEvents", [])
        return any(e.get("ClientRequestToken") == mine for e in events)

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        stack = self._stack(ctx)
        text = self._desired(ctx)
        wanted = {k: _value(v) for k, v in p.parameters.items()}
        after = {"template_sha256": templates.digest(text), "parameters": wanted, "capabilities": p.capabilities}
        if stack is None:
            return Plan(
                summary=f"Create stack {p.stack_name}.",
                before={"exists": False},
                after=after,
                changes=[f"create stack {p.stack_name}", *templates.diff("", text)],
            )
        live = self._live_template(ctx, stack)
        params = {x["ParameterKey"]: x.get("ParameterValue") for x in stack.get("Parameters", [])}
        changes = templates.diff(live, text)
        for key, value in sorted(wanted.items()):
            if params.get(key) == MASKED:
                changes.append(f"parameter {key}: (NoEcho) -> (given); a rollback cannot restore its old value")
            elif params.get(key) != value:
                changes.append(f"parameter {key}: {params.get(key)!r} -> {value!r}")
        summary = f"Update stack {p.stack_name} ({stack['StackStatus']})" + ("." if changes else ": no changes.")
        return Plan(
            summary=summary,
            before={
                "exists": True,
                "status": stack["StackStatus"],
                "template_sha256": templates.digest(live),
                "parameters": params,
            },
            after=after,
            changes=changes,
        )

    # --- execute -----------------------------------------------------------------------------------------

    def execute(self, ctx: StepContext) -> Outcome:
        stack = self._stack(ctx)
        if "before" not in ctx.state:
            return self._record(ctx, stack)
        text = self._desired(ctx)
        if templates.raw_digest(text) != ctx.state["desired_sha256"]:
            return Outcome.failed(f"The template at {ctx.p.template_url} changed since the step recorded it.")
        before = ctx.state["before"]
        if stack is None:
            if before["exists"] or ctx.state.get("issued"):
                return Outcome.failed(f"Stack {ctx.p.stack_name} no longer exists.")
            return self._create(ctx, text)
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            return Outcome.wait(ctx.p.poll_seconds, f"Stack {ctx.p.stack_name}: {status}.", stack_id=stack["StackId"])
        if self._applied(ctx, stack, text) and status in OK:
            ctx.state["stack_id"] = stack["StackId"]
            outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
            ctx.log(f"Stack {ctx.p.stack_name}: {status}.", outputs=outputs)
            return Outcome.done(f"Stack {ctx.p.stack_name}: {status}.", stack_id=stack["StackId"], outputs=outputs)
        purpose = "create" if not before["exists"] else "update"
        if ctx.state.get("issued") or self._issued_by_token(ctx, stack, purpose):
            reasons = self._failure_reasons(ctx, stack)
            ctx.log(f"Stack {ctx.p.stack_name} ended {status}.", reasons=reasons)
            return Outcome.failed(
                f"Stack {ctx.p.stack_name} ended {status}" + (f": {'; '.join(reasons)}" if reasons else "."),
                stack_id=stack["StackId"],
                status=status,
                reasons=reasons,
            )
        if not before["exists"]:
            return Outcome.failed(f"Stack {ctx.p.stack_name} was created by someone else since the step recorded it.")
        if templates.raw_digest(self._live_template(ctx, stack)) != before["template_sha256"]:
            return Outcome.failed(f"Stack {ctx.p.stack_name} changed since the step recorded it.")
        if status not in (*OK, "UPDATE_ROLLBACK_COMPLETE"):
            return Outcome.failed(f"Stack {ctx.p.stack_name} is {status}: it cannot be updated.")
        return self._update(ctx, text, stack)

    def _record(self, ctx: StepContext, stack: dict | None) -> Outcome:
        if stack is not None and stack["StackStatus"].endswith("_IN_PROGRESS"):
            return Outcome.wait(ctx.p.poll_seconds, f"Stack {ctx.p.stack_name} is busy: {stack['StackStatus']}.")
        if stack is not None and stack["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"):
            return Outcome.failed(
                f"Stack {ctx.p.stack_name} is {stack['StackStatus']} from an earlier create: delete it first."
            )
        text = self._desired(ctx)
        try:
            templates.parse(text)
        except ValueError as exc:
            return Outcome.failed(str(exc))
        before: dict[str, Any] = {"exists": stack is not None}
        if stack is not None:
            previous = self._live_template(ctx, stack)
            before.update(
                stack_id=stack["StackId"],
                status=stack["StackStatus"],
                template_sha256=templates.raw_digest(previous),
                parameters=[
                    {"ParameterKey": x["ParameterKey"], "ParameterValue": x.get("ParameterValue")}
                    for x in stack.get("Parameters", [])
                ],
                capabilities=stack.get("Capabilities", []),
            )
            if len(previous.encode()) <= templates.INLINE_LIMIT:
                before["template"] = previous
            else:
                staged = self._stage(ctx, previous)
                if staged is None:
                    return Outcome.failed(
                        f"Stack {ctx.p.stack_name}'s template is over {templates.INLINE_LIMIT} bytes: give the new "
                        "one as template_url, so the old one can be kept beside it for a rollback."
                    )
                before["template_url"] = staged
        ctx.state["before"] = before
        ctx.state["desired_sha256"] = templates.raw_digest(text)
        kept = {k: v for k, v in before.items() if k != "template"}
        ctx.log(f"Stack {ctx.p.stack_name} before the change recorded.", **kept)
        return Outcome.wait(1, "Recorded the stack before changing it.", before=kept)

    def _stage(self, ctx: StepContext, previous: str) -> str | None:
        """Keep a template too large to send inline next to the new one in S3, keyed by its content."""
        if not ctx.p.template_url:
            return None
        bucket, _ = parse_s3_url(ctx.p.template_url)
        key = f"ccb/previous-templates/{ctx.p.stack_name}/{templates.raw_digest(previous)}.template"
        ctx.aws.s3.put_object(Bucket=bucket, Key=key, Body=previous.encode())
        return f"s3://{bucket}/{key}"

    def _create(self, ctx: StepContext, text: str) -> Outcome:
        p = ctx.p
        answer = ctx.aws.cloudformation.create_stack(
            StackName=p.stack_name,
            **self._template_args(ctx, text, p.template_url),
            Parameters=self._parameters(ctx, text, None),
            Capabilities=list(p.capabilities),
            ClientRequestToken=token(ctx.idempotency_key, "create"),
        )
        ctx.state.update(issued="create", stack_id=answer["StackId"])
        ctx.log(f"Creating stack {p.stack_name}.", stack_id=answer["StackId"])
        return Outcome.wait(p.poll_seconds, f"Creating stack {p.stack_name}.", stack_id=answer["StackId"])

    def _update(self, ctx: StepContext, text: str, stack: dict) -> Outcome:
        p = ctx.p
        ctx.aws.cloudformation.update_stack(
            StackName=stack["StackId"],
            **self._template_args(ctx, text, p.template_url),
            Parameters=self._parameters(ctx, text, stack),
            Capabilities=sorted(set(p.capabilities) | set(stack.get("Capabilities", []))),
            ClientRequestToken=token(ctx.idempotency_key, "update"),
        )
        ctx.state.update(issued="update", stack_id=stack["StackId"])
        ctx.log(f"Updating stack {p.stack_name}.", stack_id=stack["StackId"])
        return Outcome.wait(p.poll_seconds, f"Updating stack {p.stack_name}.", stack_id=stack["StackId"])

    # --- verify ------------------------------------------------------------------------------------------

    def verify(self, ctx: StepContext) -> Outcome:
        stack = self._stack(ctx)
        if stack is None:
            return Outcome.failed(f"Stack {ctx.p.stack_name} does not exist.")
        if stack["StackStatus"] in OK and self._applied(ctx, stack, self._desired(ctx)):
            outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
            return Outcome.done(f"Stack {ctx.p.stack_name} runs the new template.", outputs=outputs)
        return Outcome.failed(f"Stack {ctx.p.stack_name} is {stack['StackStatus']} and not on the new template.")

    # --- rollback ----------------------------------------------------------------------------------------

    def rollback(self, ctx: StepContext) -> Outcome:
        before = ctx.state.get("before")
        if before is None:
            return Outcome.done("Nothing was changed.")
        stack = self._stack(ctx)
        if not before["exists"]:
            return self._delete(ctx, stack)
        if stack is None:
            return Outcome.failed(
                f"Stack {ctx.p.stack_name} no longer exists: its previous template cannot be restored."
            )
        status = stack["StackStatus"]
        cfn = ctx.aws.cloudformation
        if status == "UPDATE_IN_PROGRESS" and ctx.state.get("issued") == "update":
            cfn.cancel_update_stack(StackName=stack["StackId"], ClientRequestToken=token(ctx.idempotency_key, "cancel"))
            ctx.log(f"Cancelled the update of stack {ctx.p.stack_name}.")
            return Outcome.wait(ctx.p.poll_seconds, "Cancelling the update.")
        if status.endswith("_IN_PROGRESS"):
            return Outcome.wait(ctx.p.poll_seconds, f"Stack {ctx.p.stack_name}: {status}.")
        if status == "UPDATE_ROLLBACK_FAILED":
            cfn.continue_update_rollback(
                StackName=stack["StackId"], ClientRequestToken=token(ctx.idempotency_key, "continue")
            )
            ctx.log(f"Continuing CloudFormation's own rollback of stack {ctx.p.stack_name}.")
            return Outcome.wait(ctx.p.poll_seconds, "Continuing the stack's rollback.")
        if self._restored(ctx, stack, before):
            return Outcome.done(f"Stack {ctx.p.stack_name} runs its previous template again ({status}).")
        if ctx.state.get("restoring") and status not in OK and status != "UPDATE_FAILED":
            return Outcome.failed(f"Re-applying stack {ctx.p.stack_name}'s previous template ended {status}.")
        return self._restore(ctx, stack, before)

    def _restored(self, ctx: StepContext, stack: dict, before: dict) -> bool:
        if stack["StackStatus"] not in (*OK, "UPDATE_ROLLBACK_COMPLETE"):
            return False
        if templates.raw_digest(self._live_template(ctx, stack)) != before["template_sha256"]:
            return False
        live = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        return all(live.get(p["ParameterKey"]) == p["ParameterValue"] for p in before["parameters"])

    def _restore(self, ctx: StepContext, stack: dict, before: dict) -> Outcome:
        if "template" in before:
            source: dict = {"TemplateBody": before["template"]}
        else:
            bucket, key = parse_s3_url(before["template_url"])
            source = {"TemplateURL": f"https://{bucket}.s3.{ctx.aws.region}.amazonaws.com/{quote(key)}"}
        parameters = [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            if p["ParameterValue"] == MASKED
            else {"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}
            for p in before["parameters"]
        ]
        ctx.aws.cloudformation.update_stack(
            StackName=stack["StackId"],
            **source,
            Parameters=parameters,
            Capabilities=sorted(set(before.get("capabilities", [])) | set(ctx.p.capabilities)),
            ClientRequestToken=token(ctx.idempotency_key, "rollback"),
        )
        ctx.state["restoring"] = True
        ctx.log(f"Re-applying stack {ctx.p.stack_name}'s previous template.", template_sha256=before["template_sha256"])
        return Outcome.wait(ctx.p.poll_seconds, "Re-applying the previous template.")

    def _delete(self, ctx: StepContext, stack: dict | None) -> Outcome:
        if stack is None:
            return Outcome.done(f"Stack {ctx.p.stack_name} is gone (the step created it).")
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            return Outcome.wait(ctx.p.poll_seconds, f"Stack {ctx.p.stack_name}: {status}.")
        if status == "DELETE_FAILED" and ctx.state.get("deleting"):
            return Outcome.failed(
                f"Deleting stack {ctx.p.stack_name} failed: {'; '.join(self._failure_reasons(ctx, stack))}"
            )
        ctx.aws.cloudformation.delete_stack(
            StackName=stack["StackId"], ClientRequestToken=token(ctx.idempotency_key, "delete")
        )
        ctx.state.update(deleting=True, stack_id=stack["StackId"])
        ctx.log(f"Deleting stack {ctx.p.stack_name}, which the step created.", stack_id=stack["StackId"])
        return Outcome.wait(ctx.p.poll_seconds, f"Deleting stack {ctx.p.stack_name}.")
