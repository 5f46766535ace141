"""Input serializers validate shape, types and choices; output serializers present. Neither saves."""

import json

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ccb import risk
from ccb.choices import AttachmentKind, ConditionKind, DecisionOutcome, ImplementationOutcome, VoteDecision
from ccb.models import (
    Attachment,
    AuditEvent,
    Board,
    ChangeRequest,
    ChangeRevision,
    Condition,
    Decision,
    Service,
    StandardChangeTemplate,
    Vote,
)
from ccb.models.changes import PACKET_FIELDS
from deployments.models import RunbookVersion

User = get_user_model()


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)


# --- boards, services, templates -------------------------------------------------------------


class BoardSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Board
        fields = ["id", "name", "slug", "description", "min_approvals", "chair_required_from_risk",
                  "consensus_required", "emergency_review_days", "allow_requester_as_implementer", "roles"]

    def get_roles(self, board) -> dict[str, list[str]]:
        roles: dict[str, list[str]] = {}
        for membership in board.memberships.all():
            roles.setdefault(membership.role, []).append(membership.user.username)
        return roles


class BoardWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Board
        fields = ["name", "slug", "description", "min_approvals", "chair_required_from_risk", "consensus_required",
                  "emergency_review_days", "allow_requester_as_implementer"]


class ServiceSerializer(serializers.ModelSerializer):
    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all())
    owner = UsernameField(required=False, allow_null=True)
    depends_on = serializers.SlugRelatedField(slug_field="slug", many=True, queryset=Service.objects.all(),
                                              required=False)

    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "owner", "board", "criticality", "environments",
                  "depends_on"]


class TemplateSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, queryset=Service.objects.all(),
                                            required=False)
    runbook_version = serializers.PrimaryKeyRelatedField(queryset=RunbookVersion.objects.all())
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default=None)

    class Meta:
        model = StandardChangeTemplate
        fields = ["id", "board", "name", "description", "services", "environment", "runbook_version", "max_risk",
                  "packet_defaults", "active", "approved_by", "approved_at"]
        read_only_fields = ["approved_at"]


# --- changes ---------------------------------------------------------------------------------


class ChangeWriteSerializer(serializers.ModelSerializer):
    """The packet as a requester sends it. Unknown fields are refused rather than ignored."""

    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all(), required=False)
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.filter(active=True), required=False
    )
    services = serializers.SlugRelatedField(slug_field="slug", many=True, queryset=Service.objects.all(),
                                            required=False)
    implementer = UsernameField(required=False, allow_null=True)
    runbook_version = serializers.PrimaryKeyRelatedField(queryset=RunbookVersion.objects.all(), required=False,
                                                         allow_null=True)
    open_issue_links = serializers.ListField(child=serializers.URLField(), required=False, max_length=50)

    class Meta:
        model = ChangeRequest
        fields = ["board", "template", "services", "implementer", "runbook_version",
                  *[f for f in PACKET_FIELDS if f != "risk_level"]]

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
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


class ChangeListSerializer(serializers.ModelSerializer):
    board = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    implementer = serializers.CharField(source="implementer.username", read_only=True, default=None)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = ChangeRequest
        fields = ["id", "reference", "title", "change_type", "status", "risk_level", "board", "requester",
                  "implementer", "services", "environment", "planned_start", "planned_end", "submitted_at",
                  "created_at", "updated_at"]


class RevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = ChangeRevision
        fields = ["number", "content_hash", "runbook_hash", "created_by", "created_at", "content"]


class VoteSerializer(serializers.ModelSerializer):
    voter = serializers.CharField(source="voter.username")
    revision = serializers.IntegerField(source="revision.number")

    class Meta:
        model = Vote
        fields = ["id", "voter", "revision", "decision", "comment", "conditions", "voided_at", "created_at"]


class ConditionSerializer(serializers.ModelSerializer):
    satisfied_by = serializers.CharField(source="satisfied_by.username", default=None)

    class Meta:
        model = Condition
        fields = ["id", "kind", "text", "automated_check", "satisfied_at", "satisfied_by", "evidence"]


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    revision = serializers.IntegerField(source="revision.number")
    conditions = ConditionSerializer(many=True)

    class Meta:
        model = Decision
        fields = ["id", "revision", "outcome", "basis", "decided_by", "rationale", "revision_hash",
                  "runbook_hash", "decided_at", "conditions"]


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "kind", "original_name", "content_type", "size", "sha256", "signed_by", "signed_on",
                  "uploaded_by", "uploaded_at", "download_url"]

    def get_download_url(self, obj) -> str:
        return f"/api/v1/changes/{obj.change_id}/attachments/{obj.pk}/download/"


class ChangeDetailSerializer(ChangeListSerializer):
    revision = serializers.SerializerMethodField()
    runbook_version = serializers.PrimaryKeyRelatedField(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    is_review_overdue = serializers.BooleanField(read_only=True)

    class Meta(ChangeListSerializer.Meta):
        fields = [*ChangeListSerializer.Meta.fields, *[f for f in PACKET_FIELDS if f not in
                  ChangeListSerializer.Meta.fields], "template", "runbook_version", "revision", "attachments",
                  "decided_at", "implementation_started_at", "implementation_finished_at", "implementation_notes",
                  "review_due_at", "retrospective_at", "retrospective_notes", "is_review_overdue", "exit_criteria",
                  "closed_at"]

    def get_revision(self, obj) -> dict | None:
        rev = obj.current_revision
        return None if rev is None else {"number": rev.number, "content_hash": rev.content_hash,
                                         "runbook_hash": rev.runbook_hash}


# --- actions ---------------------------------------------------------------------------------


class VoteInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=VoteDecision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    conditions = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, default=list)
    revision_hash = serializers.CharField(required=False, allow_blank=True, max_length=64, default="",
                                          help_text="The revision you reviewed; refused if the change moved on.")


class ConditionInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000)
    kind = serializers.ChoiceField(choices=ConditionKind.choices, default=ConditionKind.MANUAL)
    check = serializers.JSONField(required=False, default=dict)


class DecideInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    rationale = serializers.CharField(max_length=5000)
    conditions = ConditionInputSerializer(many=True, required=False, default=list)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ScheduleInputSerializer(serializers.Serializer):
    planned_start = serializers.DateTimeField()
    planned_end = serializers.DateTimeField()


class FinishInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ImplementationOutcome.choices)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000, default="")


class CloseInputSerializer(serializers.Serializer):
    smoke_tests_passed = serializers.BooleanField(default=False)
    monitoring_normal = serializers.BooleanField(default=False)
    notifications_sent = serializers.BooleanField(default=False)
    review = serializers.CharField(max_length=20000)


class NotesInputSerializer(serializers.Serializer):
    notes = serializers.CharField(max_length=20000)


class EvidenceInputSerializer(serializers.Serializer):
    evidence = serializers.CharField(max_length=5000)


class AttachmentInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, default=AttachmentKind.EVIDENCE)
    signed_by = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    signed_on = serializers.DateField(required=False, allow_null=True, default=None)


# --- audit -----------------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    data = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["seq", "at", "actor_name", "action", "target_type", "target_id", "data", "prev_hash", "hash"]

    def get_data(self, obj) -> dict:
        return json.loads(obj.data)
