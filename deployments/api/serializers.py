from rest_framework import serializers

from ccb.api.fields import ModelSerializer, Serializer, person
from ccb.models import Board

from ..models import Runbook, RunbookVersion


class RunbookVersionSerializer(ModelSerializer):
    created_by = person("created_by")
    approved_by = person("approved_by", nullable=True)

    class Meta:
        model = RunbookVersion
        fields = [
            "id",
            "number",
            "content_hash",
            "document",
            "source_yaml",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "estimated_minutes",
        ]


class RunbookSerializer(ModelSerializer):
    board = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The board's id, as sent.")
    created_by = person("created_by")
    versions = RunbookVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Runbook
        fields = ["id", "board", "name", "description", "created_by", "created_at", "versions"]


class RunbookCreateSerializer(Serializer):
    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all())
    name = serializers.CharField(max_length=160)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source_yaml = serializers.CharField(max_length=200_000)


class RunbookVersionCreateSerializer(Serializer):
    source_yaml = serializers.CharField(max_length=200_000)
