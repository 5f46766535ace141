"""Browser forms. They validate shape and types; the services decide everything else."""

from django import forms
from django.contrib.auth import get_user_model

from ccb import execution, inputs, risk, selectors
from ccb.choices import (
    AttachmentKind,
    ChangeType,
    DecisionOutcome,
    Environment,
    NotificationAudience,
    NotificationTiming,
    VoteDecision,
)
from ccb.models import Board, Service

User = get_user_model()
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# Where an error from a service belongs on the form.
ERROR_FIELDS = {
    "roi": "roi_cost",
    "rollback_plan": "rollback_steps",
    "validation_report": "report_file",
    "notification": "notification_subject",
    "file": "report_file",
    "signed_by": "report_signed_by",
}
SECTIONS = [
    ("summary", "Summary", ["board", "change_type", "title", "summary", "justification", "services", "environment"]),
    ("impact", "Impact", ["users_affected", "expected_downtime_minutes", "impact_dependencies"]),
    ("risk", "Risk questionnaire", [f"risk_{key}" for key in risk.QUESTIONS]),
    ("roi", "Return on investment", ["roi_cost", "roi_benefit", "roi_payback_months"]),
    ("rollback", "Rollback plan", ["rollback_steps", "rollback_minutes", "rollback_tested_on"]),
    (
        "notification",
        "Customer notification draft",
        ["notification_audience", "notification_timing", "notification_subject", "notification_body"],
    ),
    (
        "evidence",
        "Validation evidence",
        [
            "report_file",
            "report_signed_by",
            "report_signed_on",
            "open_issues_resolved",
            "open_issue_links",
            "test_environments_validated",
            "test_environments",
        ],
    ),
    (
        "delivery",
        "Runbook and delivery",
        [
            "runbook_version",
            "implementer",
            "requested_start",
            "requested_end",
            "estimated_duration_minutes",
        ],
    ),
]


class PacketForm(forms.Form):
    board = forms.ModelChoiceField(
        queryset=Board.objects.all(),
        empty_label="Choose the reviewing board",
        widget=forms.Select(
            attrs={
                "hx-get": "/changes/board-choices/",
                "hx-trigger": "change",
                "hx-target": "#board-choices",
                "hx-swap": "outerHTML",
                "hx-include": "[name=board],[name=implementer],[name=runbook_version]",
            }
        ),
    )
    change_type = forms.ChoiceField(
        choices=[(ChangeType.NORMAL, "Normal"), (ChangeType.EMERGENCY, "Emergency")],
        help_text="Emergency: chair plus one member approve; a full review follows.",
    )
    title = forms.CharField(max_length=200)
    summary = forms.CharField(widget=forms.Textarea, required=False)
    justification = forms.CharField(widget=forms.Textarea, required=False, help_text="Why now, and why this way.")
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.select_related("board"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Affected services.",
    )
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PRODUCTION)
    users_affected = forms.IntegerField(min_value=0, required=False)
    expected_downtime_minutes = forms.IntegerField(min_value=0, required=False, label="Expected downtime (minutes)")
    impact_dependencies = forms.CharField(widget=forms.Textarea, required=False, label="Dependencies and impact")
    roi_cost = forms.DecimalField(max_digits=14, decimal_places=2, required=False, label="Cost")
    roi_benefit = forms.DecimalField(max_digits=14, decimal_places=2, required=False, label="Benefit")
    roi_payback_months = forms.IntegerField(min_value=0, required=False, label="Payback (months)")
    rollback_steps = forms.CharField(widget=forms.Textarea, required=False)
    rollback_minutes = forms.IntegerField(min_value=0, required=False, label="Time to roll back (minutes)")
    rollback_tested_on = forms.DateField(widget=DATE, required=False, label="Rollback rehearsed on")
    notification_audience = forms.ChoiceField(choices=NotificationAudience.choices, label="Audience")
    notification_timing = forms.ChoiceField(choices=NotificationTiming.choices, label="Send")
    notification_subject = forms.CharField(max_length=200, required=False, label="Subject")
    notification_body = forms.CharField(widget=forms.Textarea, required=False, label="Message")
    report_file = forms.FileField(required=False, label="Signed validation report (PDF, PNG or JPEG)")
    report_signed_by = forms.CharField(max_length=120, required=False, label="Signed by")
    report_signed_on = forms.DateField(widget=DATE, required=False, label="Signed on")
    open_issues_resolved = forms.BooleanField(required=False, label="I attest no critical or high issue is open")
    open_issue_links = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Links to the issue lists checked",
        help_text="One URL per line.",
    )
    test_environments_validated = forms.BooleanField(required=False, label="Test environments were validated")
    test_environments = forms.CharField(max_length=500, required=False, label="Which test environments")
    runbook_version = forms.TypedChoiceField(
        choices=[("", "No runbook yet")],
        coerce=int,
        empty_value=None,
        required=False,
        label="Runbook version",
        help_text="The board's approved runbook versions.",
        error_messages={"invalid_choice": "Choose one of this board's approved runbook versions."},
    )
    implementer = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        to_field_name="username",
        help_text="People who may implement changes on this board.",
        error_messages={"invalid_choice": "Choose one of the people who may implement this change on its board."},
    )
    requested_start = inputs.DateTimeField(widget=DATETIME, required=False, label="Requested start")
    requested_end = inputs.DateTimeField(widget=DATETIME, required=False, label="Requested end")
    estimated_duration_minutes = forms.IntegerField(min_value=0, required=False, label="Estimated duration (min)")

    def __init__(self, *args, actor, editing: bool = False, change=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor, self.change = actor, change
        for key, question in risk.QUESTIONS.items():
            choices = [("", "Not answered yet")] + [(c, c.replace("_", " ").capitalize()) for c in question["choices"]]
            self.fields[f"risk_{key}"] = forms.ChoiceField(choices=choices, required=False, label=question["label"])
        if editing:
            del self.fields["board"], self.fields["change_type"]
        for field in self.fields.values():
            if isinstance(field.widget, forms.Textarea) and str(field.widget.attrs.get("rows")) == "10":
                field.widget.attrs["rows"] = 4  # Django's default of 10 makes a phone scroll past empty boxes
        self.fields["services"].label_from_instance = lambda s: f"{s.name} ({s.board.name})"
        if "board" in self.fields:
            boards = selectors.boards_for_filing(user=actor)
            self.fields["board"].queryset = Board.objects.filter(pk__in=[b.pk for b in boards])
            if len(boards) == 1 and not self.is_bound:
                self.initial.setdefault("board", boards[0].pk)
        self.offer_for_board(change.board if change is not None else self.chosen_board())

    def chosen_board(self) -> Board | None:
        """The board the packet goes to: fixed once filed, else what the form says (or will say)."""
        raw = self.data.get("board") if self.is_bound else self.initial.get("board")
        raw = getattr(raw, "pk", raw)
        return self.fields["board"].queryset.filter(pk=raw).first() if raw and str(raw).isdigit() else None

    def offer_for_board(self, board: Board | None) -> None:
        """Offer only who may implement on the board and its approved runbook versions.

        The change's current choices stay listed, so saving never drops them silently.
        """
        if board is None:
            return
        people = selectors.implementer_candidates(board=board, actor=self.actor, change=self.change)
        current = execution.runbook_of(change=self.change) if self.change is not None else None
        versions = execution.runbook_choices(
            board_id=board.pk, user=self.actor, current_id=current.version_id if current else None
        )
        if self.change is not None and self.change.implementer_id:
            people = people | User.objects.filter(pk=self.change.implementer_id)
        self.fields["implementer"].queryset = people.distinct().order_by("username")
        self.fields["runbook_version"].choices = [("", "No runbook yet")] + [
            (v.version_id, v.label + ("" if v.approved else " (not yet approved)")) for v in versions
        ]

    def sections(self):
        return [(slug, title, [self[name] for name in names if name in self.fields]) for slug, title, names in SECTIONS]

    def packet(self) -> dict:
        """The cleaned form as the services' data dict."""
        data = {
            k: v for k, v in self.cleaned_data.items() if not k.startswith(("risk_", "report_")) and k not in {"board"}
        }
        data["risk_answers"] = {
            k: self.cleaned_data[f"risk_{k}"] for k in risk.QUESTIONS if self.cleaned_data.get(f"risk_{k}")
        }
        data["open_issue_links"] = [
            line.strip() for line in self.cleaned_data.get("open_issue_links", "").splitlines() if line.strip()
        ]
        for name in (
            "summary",
            "justification",
            "impact_dependencies",
            "rollback_steps",
            "notification_subject",
            "notification_body",
            "test_environments",
        ):
            data[name] = data.get(name) or ""
        return data

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            name = ERROR_FIELDS.get(key, key.replace("risk_answers.", "risk_"))
            for message in messages:
                self.add_error(name if name in self.fields else None, message)

    @staticmethod
    def initial_from(change) -> dict:
        initial = {
            name: getattr(change, name)
            for name in (
                "title",
                "summary",
                "justification",
                "environment",
                "users_affected",
                "expected_downtime_minutes",
                "impact_dependencies",
                "roi_cost",
                "roi_benefit",
                "roi_payback_months",
                "rollback_steps",
                "rollback_minutes",
                "rollback_tested_on",
                "notification_audience",
                "notification_timing",
                "notification_subject",
                "notification_body",
                "open_issues_resolved",
                "test_environments_validated",
                "test_environments",
                "requested_start",
                "requested_end",
                "estimated_duration_minutes",
            )
        }
        runbook = execution.runbook_of(change=change)
        initial["runbook_version"] = runbook.version_id if runbook else None
        initial["services"] = list(change.services.all())
        initial["implementer"] = change.implementer.username if change.implementer_id else None
        initial["open_issue_links"] = "\n".join(change.open_issue_links)
        initial.update({f"risk_{k}": v for k, v in change.risk_answers.items()})
        return initial


class AttachmentForm(forms.Form):
    file = forms.FileField()
    kind = forms.ChoiceField(choices=AttachmentKind.choices)
    signed_by = forms.CharField(max_length=120, required=False)
    signed_on = forms.DateField(widget=DATE, required=False)


class VoteForm(forms.Form):
    decision = forms.ChoiceField(choices=VoteDecision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="Required when you reject."
    )
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Conditions (approve with conditions)",
        help_text="One per line.",
    )
    revision_hash = forms.CharField(widget=forms.HiddenInput)


class ConditionForm(forms.Form):
    evidence = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="How it was met: a link or a short note."
    )


class DecideForm(forms.Form):
    outcome = forms.ChoiceField(choices=DecisionOutcome.choices)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="One per line.")


class AuditFilterForm(forms.Form):
    after = inputs.DateTimeField(widget=DATETIME, required=False, label="From")
    before = inputs.DateTimeField(widget=DATETIME, required=False, label="To")
    actor = forms.CharField(required=False)
    action = forms.CharField(required=False)
    change = forms.CharField(
        required=False, max_length=20, label="Change", help_text="Its id or reference, e.g. CHG-000014."
    )
