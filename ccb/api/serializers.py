"""Input serializers validate shape, types and choices; output serializers present. Neither saves."""

import json
import zoneinfo
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from ccb import execution, risk, scheduling
from ccb.api.fields import DateTimeField, ModelSerializer, RefusesUnknownFields, Serializer, person
from ccb.choices import (
    AttachmentKind,
    ConditionKind,
    DecisionOutcome,
    Environment,
    VoteDecision,
)
from ccb.models import (
    Attachment,
    AuditEvent,
    Board,
    ChangeRequest,
    ChangeRevision,
    Condition,
    Decision,
    FreezeWindow,
    MaintenanceWindow,
    Service,
    StandardChangeTemplate,
    Vote,
)
from ccb.models.changes import PACKET_FIELDS
from ccb.models.windows import MAX_WINDOW_MINUTES

ZONES = sorted(zoneinfo.available_timezones())

User = get_user_model()


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)


class TokenRequestSerializer(RefusesUnknownFields, AuthTokenSerializer):
    """A username and password for a token. Bounded, so a refused attempt is recorded (django-axes) and
    never fails on the database."""

    username = serializers.CharField(max_length=User._meta.get_field("username").max_length, write_only=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


# --- boards, services, templates -------------------------------------------------------------


class BoardSerializer(ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Board
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "min_approvals",
            "chair_required_from_risk",
            "consensus_required",
            "emergency_review_days",
            "allow_requester_as_implementer",
            "roles",
        ]

    def get_roles(self, board) -> dict[str, list[str]]:
        roles: dict[str, list[str]] = {}
        for membership in board.memberships.all():
            roles.setdefault(membership.role, []).append(membership.user.username)
        return roles


class BoardWriteSerializer(ModelSerializer):
    class Meta:
        model = Board
        fields = [
            "name",
            "slug",
            "description",
            "min_approvals",
            "chair_required_from_risk",
            "consensus_required",
            "emergency_review_days",
            "allow_requester_as_implementer",
        ]


class ServiceSerializer(ModelSerializer):
    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all())
    owner = UsernameField(required=False, allow_null=True)
    depends_on = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.all(), required=False
    )

    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "owner", "board", "criticality", "environments", "depends_on"]


RUNBOOK_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {
        k: {"type": t}
        for k, t in (
            ("id", "integer"),
            ("runbook", "integer"),
            ("name", "string"),
            ("version", "integer"),
            ("content_hash", "string"),
            ("approved", "boolean"),
            ("needs_review", "boolean"),
            ("planned_minutes", "integer"),
            ("url", "string"),
        )
    },
}
DEPLOYMENT_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {
        "run": {"type": "integer"},
        "status": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "outcome": {"type": "string"},
    },
}


def runbook_data(runbook: execution.RunbookRef | None) -> dict | None:
    if runbook is None:
        return None
    return {
        "id": runbook.version_id,
        "runbook": runbook.runbook_id,
        "name": runbook.name,
        "version": runbook.number,
        "content_hash": runbook.content_hash,
        "approved": runbook.approved,
        "needs_review": runbook.needs_review,
        "planned_minutes": runbook.planned_minutes,
        "url": runbook.url,
    }


class RunbookPreloadingList(serializers.ListSerializer):
    """A list that reads its rows' runbooks in one query (they live in the execution layer)."""

    def to_representation(self, data):
        rows = list(data.all() if hasattr(data, "all") else data)
        execution.preload_runbooks(objects=rows)
        return super().to_representation(rows)


class TemplateSerializer(ModelSerializer):
    services = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.all(), required=False
    )
    runbook_version = serializers.IntegerField(
        write_only=True, help_text="The approved runbook version the template runs (one of its board's)."
    )
    runbook = serializers.SerializerMethodField()
    approved_by = person("approved_by", nullable=True)

    @extend_schema_field(RUNBOOK_SCHEMA)
    def get_runbook(self, obj) -> dict | None:
        return runbook_data(execution.template_runbook(template=obj))

    class Meta:
        model = StandardChangeTemplate
        list_serializer_class = RunbookPreloadingList
        fields = [
            "id",
            "board",
            "name",
            "description",
            "services",
            "environment",
            "runbook_version",
            "runbook",
            "max_risk",
            "packet_defaults",
            "active",
            "approved_by",
            "approved_at",
        ]
        read_only_fields = ["approved_at"]


# --- changes ---------------------------------------------------------------------------------


class ChangeWriteSerializer(ModelSerializer):
    """The packet as a requester sends it. Unknown fields are refused rather than ignored."""

    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all(), required=False)
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.filter(active=True), required=False
    )
    services = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.all(), required=False
    )
    implementer = UsernameField(required=False, allow_null=True)
    runbook_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The runbook version the change runs: one of its board's approved ones, or a draft of yours.",
    )
    open_issue_links = serializers.ListField(child=serializers.URLField(), required=False, max_length=50)

    class Meta:
        model = ChangeRequest
        fields = [
            "board",
            "template",
            "services",
            "implementer",
            "runbook_version",
            *[f for f in PACKET_FIELDS if f != "risk_level"],
        ]

    def validate(self, attrs):
        errors = risk.validate_answers(attrs.get("risk_answers", {}))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ChangeCreateSerializer(ChangeWriteSerializer):
    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("template") and not attrs.get("board"):
            raise serializers.ValidationError({"board": ["Choose the board that reviews this change."]})
        if not attrs.get("template") and not attrs.get("title", "").strip():
            raise serializers.ValidationError({"title": ["Give the change a title."]})
        return attrs


class ChangeListSerializer(ModelSerializer):
    board = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The board's id, as sent.")
    requester = person("requester")
    implementer = person("implementer", nullable=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    schedule_flagged = serializers.SerializerMethodField(
        help_text="The booked slot no longer passes the scheduling rules (see schedule_problems)."
    )

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "reference",
            "title",
            "change_type",
            "status",
            "risk_level",
            "board",
            "requester",
            "implementer",
            "services",
            "environment",
            "planned_start",
            "planned_end",
            "schedule_flagged",
            "submitted_at",
            "created_at",
            "updated_at",
        ]

    def get_schedule_flagged(self, obj) -> bool:
        return bool(obj.schedule_problems)


class RevisionSerializer(ModelSerializer):
    created_by = person("created_by")

    class Meta:
        model = ChangeRevision
        fields = ["number", "content_hash", "runbook_hash", "created_by", "created_at", "content"]


class VoteSerializer(ModelSerializer):
    voter = person("voter")
    revision = serializers.IntegerField(source="revision.number")

    class Meta:
        model = Vote
        fields = ["id", "voter", "revision", "decision", "comment", "conditions", "voided_at", "created_at"]


class ConditionSerializer(ModelSerializer):
    satisfied_by = person("satisfied_by", nullable=True)

    class Meta:
        model = Condition
        fields = ["id", "kind", "text", "automated_check", "satisfied_at", "satisfied_by", "evidence"]


class DecisionSerializer(ModelSerializer):
    decided_by = person("decided_by", nullable=True)
    revision = serializers.IntegerField(source="revision.number")
    conditions = ConditionSerializer(many=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "revision",
            "outcome",
            "basis",
            "decided_by",
            "rationale",
            "revision_hash",
            "runbook_hash",
            "decided_at",
            "conditions",
        ]


class AttachmentSerializer(ModelSerializer):
    uploaded_by = person("uploaded_by")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "kind",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "signed_by",
            "signed_on",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]

    def get_download_url(self, obj) -> str:
        return f"/api/v1/changes/{obj.change_id}/attachments/{obj.pk}/download/"


class RevisionRefSerializer(Serializer):
    """The revision under review: what a vote's ``revision_hash`` names."""

    number = serializers.IntegerField()
    content_hash = serializers.CharField()
    runbook_hash = serializers.CharField()


class ChangeDetailSerializer(ChangeListSerializer):
    revision = serializers.SerializerMethodField()
    runbook_version = serializers.SerializerMethodField()
    runbook = serializers.SerializerMethodField()
    deployment = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)
    is_review_overdue = serializers.BooleanField(read_only=True)
    timeline_minutes = serializers.SerializerMethodField(
        help_text="Minutes a booking covers: the longer of the runbook version's step timeouts and the packet's "
        "estimated duration, plus the packet's time to roll back."
    )
    schedule_overridden_by = person("schedule_overridden_by", nullable=True)

    class Meta(ChangeListSerializer.Meta):
        fields = [
            *ChangeListSerializer.Meta.fields,
            *[f for f in PACKET_FIELDS if f not in ChangeListSerializer.Meta.fields],
            "template",
            "runbook_version",
            "runbook",
            "deployment",
            "revision",
            "attachments",
            "decided_at",
            "timeline_minutes",
            "schedule_problems",
            "schedule_checked_at",
            "schedule_override_reason",
            "schedule_overridden_by",
            "schedule_sequence",
            "review_due_at",
            "retrospective_at",
            "retrospective_notes",
            "is_review_overdue",
            "exit_criteria",
            "closed_at",
        ]

    def get_timeline_minutes(self, obj) -> int | None:
        return scheduling.timeline_minutes(obj)

    def get_runbook_version(self, obj) -> int | None:
        runbook = execution.runbook_of(change=obj)
        return runbook.version_id if runbook else None

    @extend_schema_field(RUNBOOK_SCHEMA)
    def get_runbook(self, obj) -> dict | None:
        return runbook_data(execution.runbook_of(change=obj))

    @extend_schema_field(DEPLOYMENT_SCHEMA)
    def get_deployment(self, obj) -> dict | None:
        """The latest deployment run of the change, if one was started."""
        run = execution.deployment_of(change=obj)
        return (
            None
            if run is None
            else {
                "run": run.run_id,
                "status": run.status,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "outcome": run.outcome,
            }
        )

    @extend_schema_field(RevisionRefSerializer(allow_null=True))
    def get_revision(self, obj) -> dict | None:
        rev = obj.current_revision
        return (
            None
            if rev is None
            else {"number": rev.number, "content_hash": rev.content_hash, "runbook_hash": rev.runbook_hash}
        )


# --- actions ---------------------------------------------------------------------------------


class VoteInputSerializer(Serializer):
    decision = serializers.ChoiceField(choices=VoteDecision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    conditions = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, default=list)
    revision_hash = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        default="",
        help_text="The revision you reviewed; refused if the change moved on.",
    )


class ConditionInputSerializer(Serializer):
    text = serializers.CharField(max_length=1000)
    kind = serializers.ChoiceField(choices=ConditionKind.choices, default=ConditionKind.MANUAL)
    check = serializers.JSONField(required=False, default=dict)


class DecideInputSerializer(Serializer):
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    rationale = serializers.CharField(max_length=5000)
    conditions = ConditionInputSerializer(many=True, required=False, default=list)


class ReasonInputSerializer(Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


StrictInputSerializer = Serializer  # every input serializer refuses fields it does not know


class ScheduleInputSerializer(StrictInputSerializer):
    planned_start = DateTimeField(
        help_text="With an offset, or read in the viewer's zone (?tz=). The end follows from the timeline."
    )
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        default="",
        help_text="The chair's emergency override: book outside a window or over a conflict, for this reason.",
    )

    def to_internal_value(self, data):
        if "planned_end" in data:
            raise serializers.ValidationError(
                {
                    "planned_end": [
                        "The end follows from the deployment's timeline (runbook or packet estimate): "
                        "send planned_start only."
                    ]
                }
            )
        return super().to_internal_value(data)


class SlotsQuerySerializer(Serializer):
    count = serializers.IntegerField(min_value=1, max_value=50, default=5)
    after = DateTimeField(required=False, allow_null=True, default=None)


class SlotSerializer(Serializer):
    start = DateTimeField()
    end = DateTimeField()
    latest_start = DateTimeField(help_text="Any start up to this one fits the same free stretch.")


class ProblemSerializer(Serializer):
    rule = serializers.CharField()
    message = serializers.CharField()
    service = serializers.CharField(allow_blank=True)
    window = serializers.IntegerField(allow_null=True)
    freeze = serializers.IntegerField(allow_null=True)
    change = serializers.IntegerField(allow_null=True)


class CloseInputSerializer(Serializer):
    smoke_tests_passed = serializers.BooleanField(default=False)
    monitoring_normal = serializers.BooleanField(default=False)
    notifications_sent = serializers.BooleanField(default=False)
    review = serializers.CharField(max_length=20000)


class NotesInputSerializer(Serializer):
    notes = serializers.CharField(max_length=20000)


class EvidenceInputSerializer(Serializer):
    evidence = serializers.CharField(max_length=5000)


class AttachmentInputSerializer(Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, default=AttachmentKind.EVIDENCE)
    signed_by = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    signed_on = serializers.DateField(required=False, allow_null=True, default=None)


# --- maintenance windows, freezes, calendar --------------------------------------------------------


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"})
class LocalDateTimeField(serializers.Field):
    """A wall-clock date-time without an offset, read in the window's own time zone (2026-03-01T01:00)."""

    default_error_messages = {
        "invalid": "Give a local date-time such as 2026-03-01T01:00.",
        "offset": "Give the local wall-clock time without an offset: the window's time_zone says where it is.",
    }

    def to_internal_value(self, data):
        try:
            value = datetime.fromisoformat(str(data))
        except ValueError:
            self.fail("invalid")
        if value.tzinfo is not None:
            self.fail("offset")
        return value

    def to_representation(self, value):
        return value.isoformat(timespec="minutes")


class OccurrenceSerializer(Serializer):
    start = DateTimeField()
    end = DateTimeField()


class MaintenanceWindowSerializer(ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    board = serializers.IntegerField(source="service.board_id", read_only=True)
    dtstart = LocalDateTimeField(read_only=True)
    created_by = person("created_by", nullable=True)
    next_occurrences = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "description",
            "service",
            "board",
            "environment",
            "time_zone",
            "dtstart",
            "duration_minutes",
            "rrule",
            "exdates",
            "active",
            "next_occurrences",
            "created_by",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OccurrenceSerializer(many=True))
    def get_next_occurrences(self, window) -> list[dict]:
        if not window.active:
            return []
        now = timezone.now()
        occurrences = window.occurrences(now, now + timedelta(days=400))[:3]
        return OccurrenceSerializer([{"start": a, "end": b} for a, b in occurrences], many=True).data


class MaintenanceWindowWriteSerializer(StrictInputSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    environment = serializers.ChoiceField(choices=Environment.choices)
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    time_zone = serializers.ChoiceField(
        choices=ZONES,
        help_text="IANA zone, e.g. Europe/London.",
        error_messages={"invalid_choice": "Unknown time zone '{input}': use an IANA name such as Europe/London."},
    )
    dtstart = LocalDateTimeField(help_text="Local start of the first occurrence, e.g. 2026-03-01T01:00.")
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES)
    rrule = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=SU. Blank: one-off.",
    )
    exdates = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=1000,
        help_text="Local date-times (2026-12-27T01:00) or dates removed (EXDATE).",
    )
    active = serializers.BooleanField(required=False)


class FreezeSerializer(ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = person("created_by", nullable=True)

    class Meta:
        model = FreezeWindow
        fields = [
            "id",
            "name",
            "reason",
            "board",
            "services",
            "environment",
            "start",
            "end",
            "active",
            "created_by",
            "created_at",
            "updated_at",
        ]


class FreezeWriteSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    reason = serializers.CharField(max_length=5000)
    board = serializers.PrimaryKeyRelatedField(
        queryset=Board.objects.all(), allow_null=True, help_text="null: every board (administrators only)."
    )
    services = serializers.SlugRelatedField(
        slug_field="slug",
        many=True,
        queryset=Service.objects.all(),
        required=False,
        help_text="None: every service of the board.",
    )
    environment = serializers.ChoiceField(
        choices=[("", "Every environment"), *Environment.choices], required=False, allow_blank=True
    )
    start = DateTimeField()
    end = DateTimeField()
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end <= start:
            raise serializers.ValidationError({"end": ["The freeze must end after it starts."]})
        return attrs


class CalendarTokenSerializer(Serializer):
    url = serializers.CharField(allow_null=True, help_text="Subscribe to this address; it needs no sign-in.")
    created_at = DateTimeField(allow_null=True)


# --- audit -----------------------------------------------------------------------------------


class AuditEventSerializer(ModelSerializer):
    data = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["seq", "at", "actor_name", "action", "target_type", "target_id", "data", "prev_hash", "hash"]

    def get_data(self, obj) -> dict:
        return json.loads(obj.data)
