import django_filters
from django.db.models import Exists, OuterRef
from rest_framework.filters import OrderingFilter

from ccb.choices import ChangeType, Environment, RiskLevel, Status
from ccb.models import AuditEvent, ChangeRequest, FreezeWindow, MaintenanceWindow, Service


class ChangeRequestFilter(django_filters.FilterSet):
    # Columns of the change itself cannot duplicate rows, so no DISTINCT (it defeats the index scan).
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    change_type = django_filters.MultipleChoiceFilter(choices=ChangeType.choices, distinct=False)
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices, distinct=False)
    board = django_filters.NumberFilter(field_name="board_id")
    service = django_filters.CharFilter(method="filter_service", label="Service id or slug")
    requester = django_filters.CharFilter(field_name="requester__username")
    implementer = django_filters.CharFilter(field_name="implementer__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    planned_after = django_filters.IsoDateTimeFilter(field_name="planned_start", lookup_expr="gte")
    planned_before = django_filters.IsoDateTimeFilter(field_name="planned_start", lookup_expr="lt")

    class Meta:
        model = ChangeRequest
        fields = ["status", "change_type", "risk_level", "board", "service", "requester", "implementer"]

    def filter_service(self, queryset, name, value):
        # Resolve the slug first and test membership with EXISTS: a join would need DISTINCT.
        service_id = int(value) if value.isdigit() else Service.objects.filter(slug=value).values("pk")[:1]
        links = ChangeRequest.services.through.objects.filter(changerequest_id=OuterRef("pk"), service_id=service_id)
        return queryset.filter(Exists(links))


class AuditEventFilter(django_filters.FilterSet):
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.CharFilter(field_name="action")
    change = django_filters.NumberFilter(method="filter_change")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "after", "before", "change"]

    def filter_change(self, queryset, name, value):
        return queryset.filter(target_type="ccb.changerequest", target_id=str(value))


class MaintenanceWindowFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug", label="Service slug")
    board = django_filters.NumberFilter(field_name="service__board_id")
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    active = django_filters.BooleanFilter()

    class Meta:
        model = MaintenanceWindow
        fields = ["service", "board", "environment", "active"]


class FreezeWindowFilter(django_filters.FilterSet):
    board = django_filters.NumberFilter(field_name="board_id")
    environment = django_filters.CharFilter()
    active = django_filters.BooleanFilter()
    ends_after = django_filters.IsoDateTimeFilter(field_name="end", lookup_expr="gt")
    starts_before = django_filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = FreezeWindow
        fields = ["board", "environment", "active", "ends_after", "starts_before"]


class StableOrderingFilter(OrderingFilter):
    """Any requested order ends with the primary key, so pages never repeat or skip rows that tie."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        pk = queryset.model._meta.pk.name
        if ordering and not any(o.lstrip("-") in (pk, "pk", "id") for o in ordering):
            ordering.append(f"-{pk}" if ordering[-1].startswith("-") else pk)
        return ordering
