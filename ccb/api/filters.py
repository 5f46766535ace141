import django_filters

from ccb.choices import ChangeType, RiskLevel, Status
from ccb.models import AuditEvent, ChangeRequest


class ChangeRequestFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    change_type = django_filters.MultipleChoiceFilter(choices=ChangeType.choices)
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
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
        if value.isdigit():
            return queryset.filter(services__id=int(value)).distinct()
        return queryset.filter(services__slug=value).distinct()


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
