from rest_framework import serializers

from ccb.models import Board

from ..models import Runbook, RunbookVersion


class RunbookVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default=None)

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


class RunbookSerializer(serializers.ModelSerializer):
    board = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    versions = RunbookVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Runbook
        fields = ["id", "board", "name", "description", "created_by", "created_at", "versions"]


class RunbookCreateSerializer(serializers.Serializer):
    board = serializers.PrimaryKeyRelatedField(queryset=Board.objects.all())
    name = serializers.CharField(max_length=160)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    source_yaml = serializers.CharField(max_length=200_000)


class RunbookVersionCreateSerializer(serializers.Serializer):
    source_yaml = serializers.CharField(max_length=200_000)
