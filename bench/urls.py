"""Bench-only urlconf: everything in ccb.urls plus a bare DRF list view used as the baseline."""

from django.urls import include, path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers
from rest_framework.filters import OrderingFilter

from ccb.api.pagination import Pagination
from ccb.models import ChangeRequest


class BareChangeSerializer(serializers.ModelSerializer):
    """A plain ModelSerializer presenting the same fields as ccb's ChangeListSerializer."""

    board = serializers.PrimaryKeyRelatedField(read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    implementer = serializers.CharField(source="implementer.username", read_only=True, default=None)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

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
            "submitted_at",
            "created_at",
            "updated_at",
        ]


class BareChangeList(generics.ListAPIView):
    """Same table, same page size and ordering, same authentication; no row-visibility filter."""

    serializer_class = BareChangeSerializer
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return (
            ChangeRequest.objects.select_related("requester", "implementer")
            .prefetch_related("services")
            .order_by("-created_at", "-id")
        )


urlpatterns = [
    path("bench/bare-changes/", BareChangeList.as_view(), name="bench-bare-changes"),
    path("", include("ccb.urls")),
]
