"""How the pages word what ccb records: audit actions, timeline sentences and entry criteria.

Codes stay in the data; people read these words. A test keeps one label for every audit action.
"""

from django.utils.dateparse import parse_datetime

from ccb import risk
from ccb.choices import AuditAction, DecisionBasis, DecisionOutcome, Status, VoteDecision

# The audit trail's column: what happened, in a few words.
ACTION_LABELS: dict[str, str] = {
    AuditAction.CHANGE_CREATED: "Change filed",
    AuditAction.CHANGE_UPDATED: "Packet edited",
    AuditAction.CHANGE_SUBMITTED: "Change submitted",
    AuditAction.CHANGE_REVISED: "New revision",
    AuditAction.CHANGE_REVIEW_STARTED: "Put on the agenda",
    AuditAction.CHANGE_WITHDRAWN: "Change withdrawn",
    AuditAction.CHANGE_DECIDED: "Decision recorded",
    AuditAction.CHANGE_SCHEDULED: "Change scheduled",
    AuditAction.CHANGE_IMPLEMENTATION_STARTED: "Deployment started",
    AuditAction.CHANGE_IMPLEMENTATION_FINISHED: "Deployment finished",
    AuditAction.CHANGE_CLOSED: "Change closed",
    AuditAction.CHANGE_RETROSPECTIVE: "Retrospective review recorded",
    AuditAction.VOTE_CAST: "Vote cast",
    AuditAction.VOTES_VOIDED: "Votes voided by a new revision",
    AuditAction.CONDITION_SATISFIED: "Condition met",
    AuditAction.ATTACHMENT_ADDED: "File attached",
    AuditAction.POLICY_REFUSED: "Refused by a rule",
    AuditAction.POLICY_REFUSED_REPEATED: "The same refusal, repeated",
    AuditAction.DEPLOYMENT_STARTED: "Run started",
    AuditAction.DEPLOYMENT_DRIFT_ACCEPTED: "Drift from the plan accepted",
    AuditAction.DEPLOYMENT_STEP_STARTED: "Step started",
    AuditAction.DEPLOYMENT_STEP_SUCCEEDED: "Step succeeded",
    AuditAction.DEPLOYMENT_STEP_FAILED: "Step failed",
    AuditAction.DEPLOYMENT_STEP_RETRIED: "Step retried",
    AuditAction.DEPLOYMENT_AWS_CALLS: "AWS calls made",
    AuditAction.DEPLOYMENT_GATE_WAITING: "Go/no-go waiting",
    AuditAction.DEPLOYMENT_GATE_ANSWERED: "Go/no-go answered",
    AuditAction.DEPLOYMENT_ROLLBACK_STARTED: "Rollback started",
    AuditAction.DEPLOYMENT_STEP_ROLLED_BACK: "Step rolled back",
    AuditAction.DEPLOYMENT_ROLLBACK_FAILED: "Rollback of a step failed",
    AuditAction.DEPLOYMENT_ABORT_REQUESTED: "Abort requested",
    AuditAction.DEPLOYMENT_HELD: "Run held",
    AuditAction.DEPLOYMENT_RESUMED: "Run resumed",
    AuditAction.DEPLOYMENT_WINDOW_EXTENDED: "Run's window extended",
    AuditAction.DEPLOYMENT_FINISHED: "Run finished",
    AuditAction.BOARD_CREATED: "Board created",
    AuditAction.BOARD_UPDATED: "Board changed",
    AuditAction.BOARD_ROLE_GRANTED: "Board role granted",
    AuditAction.BOARD_ROLE_REVOKED: "Board role revoked",
    AuditAction.SERVICE_CREATED: "Service created",
    AuditAction.SERVICE_UPDATED: "Service changed",
    AuditAction.TEMPLATE_CREATED: "Standard template created",
    AuditAction.TEMPLATE_UPDATED: "Standard template changed",
    AuditAction.RUNBOOK_CREATED: "Runbook version written",
    AuditAction.RUNBOOK_APPROVED: "Runbook version approved",
    AuditAction.SITE_AUDITOR_GRANTED: "Auditor access granted",
    AuditAction.SITE_AUDITOR_REVOKED: "Auditor access revoked",
    AuditAction.WINDOW_CREATED: "Maintenance window added",
    AuditAction.WINDOW_UPDATED: "Maintenance window changed",
    AuditAction.WINDOW_DEACTIVATED: "Maintenance window deactivated",
    AuditAction.FREEZE_CREATED: "Freeze declared",
    AuditAction.FREEZE_UPDATED: "Freeze changed",
    AuditAction.FREEZE_DEACTIVATED: "Freeze ended",
    AuditAction.CHANGE_SCHEDULE_OVERRIDDEN: "Scheduling rules overridden",
    AuditAction.CHANGE_SCHEDULE_FLAGGED: "Booking no longer fits",
    AuditAction.CHANGE_SCHEDULE_CLEARED: "Booking fits again",
    AuditAction.CALENDAR_TOKEN_ROTATED: "Calendar feed address renewed",
    AuditAction.CALENDAR_TOKEN_REVOKED: "Calendar feed address revoked",
}

TARGET_LABELS = {
    "ccb.changerequest": "change",
    "ccb.board": "board",
    "ccb.service": "service",
    "ccb.standardchangetemplate": "template",
    "ccb.maintenancewindow": "window",
    "ccb.freezewindow": "freeze",
    "deployments.runbookversion": "runbook version",
    "auth.user": "person",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action.replace(".", ": ").replace("_", " ").capitalize())


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value).replace("_", " ")


def _when(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return str(value or "")
    from django.utils import timezone  # the viewer's zone, set per request

    return timezone.localtime(moment).strftime("%a %d %b %Y, %H:%M %Z")


def _quote(text: str) -> str:
    return f"“{text}”" if text else ""


def timeline_entry(action: str, actor: str, data: dict) -> dict:
    """One timeline line: who, what they did (in words), and details underneath."""
    who, words, details = actor or "ccb", "", []
    if action == AuditAction.CHANGE_CREATED:
        words = "filed the change"
    elif action == AuditAction.CHANGE_UPDATED:
        if data.get("to") == Status.DRAFT:
            words = "took it back to draft to revise it"
        else:
            words = "edited the packet"
            if data.get("fields"):
                details.append("Changed: " + ", ".join(f.replace("_", " ") for f in data["fields"]))
    elif action == AuditAction.CHANGE_SUBMITTED:
        words = f"submitted revision {data['number']} to the board" if data.get("number") else "submitted it"
    elif action == AuditAction.CHANGE_REVISED:
        words = f"made revision {data.get('number')}"
        if data.get("fields"):
            details.append("Changed: " + ", ".join(f.replace("_", " ") for f in data["fields"]))
    elif action == AuditAction.CHANGE_REVIEW_STARTED:
        if data.get("via") == "vote":
            who, words = f"{who}’s vote", "put it on the agenda"
        else:
            words = "put it on the agenda"
    elif action == AuditAction.CHANGE_WITHDRAWN:
        words = "withdrew it"
        if data.get("from"):
            details.append(f"It was {_label(Status, data['from']).lower()}.")
        if data.get("reason"):
            details.append(f"Reason: {_quote(data['reason'])}")
    elif action == AuditAction.CHANGE_DECIDED:
        outcome = _label(DecisionOutcome, data.get("outcome", "")).lower()
        words = f"recorded the decision: {outcome}" if actor else f"decided: {outcome}"
        if data.get("basis"):
            details.append(_label(DecisionBasis, data["basis"]))
        if data.get("rationale"):
            details.append(_quote(data["rationale"]))
        details += [f"Condition: {text}" for text in data.get("conditions") or []]
    elif action == AuditAction.CHANGE_SCHEDULED:
        words = "scheduled it"
        if data.get("start"):
            details.append(f"From {_when(data['start'])} to {_when(data.get('end'))}")
    elif action == AuditAction.CHANGE_SCHEDULE_OVERRIDDEN:
        words = "overrode the scheduling rules"
        if data.get("reason"):
            details.append(f"Reason: {_quote(data['reason'])}")
    elif action == AuditAction.CHANGE_SCHEDULE_FLAGGED:
        words = "found that it no longer fits its slot"
        details += [p.get("message", "") for p in data.get("problems") or [] if isinstance(p, dict)]
    elif action == AuditAction.CHANGE_SCHEDULE_CLEARED:
        words = "found that it fits its slot again"
    elif action == AuditAction.CHANGE_IMPLEMENTATION_STARTED:
        words = "started the deployment"
    elif action == AuditAction.CHANGE_IMPLEMENTATION_FINISHED:
        words = f"finished the deployment: {_label(Status, data.get('outcome', '')).lower()}"
        if data.get("notes"):
            details.append(_quote(data["notes"]))
    elif action == AuditAction.CHANGE_CLOSED:
        words = "closed it"
    elif action == AuditAction.CHANGE_RETROSPECTIVE:
        words = "recorded the retrospective review" + (" (late)" if data.get("overdue") else "")
        if data.get("notes"):
            details.append(_quote(data["notes"]))
    elif action == AuditAction.VOTE_CAST:
        words = f"voted to {_label(VoteDecision, data.get('decision', '')).lower()}"
        if data.get("comment"):
            details.append(_quote(data["comment"]))
        details += [f"Condition: {text}" for text in data.get("conditions") or []]
    elif action == AuditAction.VOTES_VOIDED:
        count = data.get("count", 0)
        words = f"revised the packet, so {count} earlier vote{'s' if count != 1 else ''} no longer count"
    elif action == AuditAction.CONDITION_SATISFIED:
        words = f"met the condition {_quote(data.get('text', ''))}"
        if data.get("evidence"):
            details.append(f"Evidence: {data['evidence']}")
    elif action == AuditAction.ATTACHMENT_ADDED:
        words = f"attached {data.get('name', 'a file')}"
    elif action == AuditAction.POLICY_REFUSED:
        words = "was refused"
        if data.get("message"):
            details.append(data["message"])
    else:
        words = action_label(action).lower()
    return {"who": who, "words": words, "details": [d for d in details if d]}


# --- entry criteria -------------------------------------------------------------------------------------

# Criteria that are not one form field, and where on the form each is answered.
CRITERIA = {
    "roi": ("Return on investment (cost and benefit)", "roi_cost"),
    "rollback_plan": ("Rollback plan", "rollback_steps"),
    "validation_report": ("Signed validation report", "report_file"),
    "notification": ("Customer notification draft", "notification_subject"),
    "open_issues_resolved": ("No open critical or high issues", "open_issues_resolved"),
    "test_environments_validated": ("Test environments validated", "test_environments_validated"),
    "runbook_version": ("Runbook", "runbook_version"),
    "implementer": ("Implementer", "implementer"),
    "users_affected": ("Users affected", "users_affected"),
    "expected_downtime_minutes": ("Expected downtime", "expected_downtime_minutes"),
    "services": ("Affected services", "services"),
    "risk_level": ("Risk level", None),
    "quorum": ("Quorum", None),
}


def criterion(key: str) -> tuple[str, str | None]:
    """(a person's name for the criterion, the packet form field where it is answered, if any)."""
    if key in CRITERIA:
        return CRITERIA[key]
    if key.startswith("risk_answers."):
        question = key.removeprefix("risk_answers.")
        return f"Risk: {risk.QUESTIONS.get(question, {}).get('label', question)}", f"risk_{question}"
    return key.replace("_", " ").capitalize(), key


def criteria_rows(missing: dict[str, list[str]]) -> list[dict]:
    rows = []
    for key, messages in missing.items():
        label, field = criterion(key)
        anchor = None if field is None else ("id_services_0" if field == "services" else f"id_{field}")
        rows.append({"key": key, "label": label, "field": field, "anchor": anchor, "messages": messages})
    return rows
