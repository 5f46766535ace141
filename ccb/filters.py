"""Filter sets for the lists people read, in the API and on the pages alike.

The selectors apply them (``selectors.change_request_list(user=..., filters=request.GET)``), so a filter
means the same wherever it is used. Date-times refuse offsets PostgreSQL cannot store and ids take ASCII
digits only (``ccb.inputs``), so a bad filter is a 400 naming it, never a 500.
"""

import re
from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from ccb import inputs
from ccb.choices import ChangeType, Criticality, Environment, RiskLevel, Status
from ccb.exceptions import PacketInvalid
from ccb.models import (
    AuditEvent,
    ChangeRequest,
    FreezeWindow,
    MaintenanceWindow,
    Service,
    StandardChangeTemplate,
)

# The request's query string (a QueryDict), or any mapping of filter names to values; None: no filter.
Filters = Mapping[str, Any] | None


class StorableIsoDateTimeField(IsoDateTimeField):
    default_validators = [inputs.validate_utc_offset]


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time (with an offset, or read in the viewer's zone)."""

    field_class = StorableIsoDateTimeField


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": inputs.MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An id; one that matches nothing filters everything out rather than being refused."""

    field_class = inputs.IdField


class ChangeReferenceField(forms.CharField):
    """A change by its id (14) or its reference as people write it (CHG-000014, chg-14)."""

    default_error_messages = {"invalid": "Give a change id or reference, such as 14 or CHG-000014."}

    def to_python(self, value):
        text = super().to_python(value).strip()
        if not text:
            return None
        match = re.fullmatch(r"(?:CHG-?)?0*([0-9]{1,18})", text, flags=re.IGNORECASE)
        if match is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(match.group(1))


class ChangeReferenceFilter(django_filters.Filter):
    field_class = ChangeReferenceField


class StrictBooleanField(forms.NullBooleanField):
    """true or false; anything else is refused rather than read as no filter."""

    widget = forms.TextInput  # the select widget would read anything else as "no filter"

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ValidationError("Give true or false.", code="invalid")
        return text == "true"

    def validate(self, value):
        pass


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class BlankIgnoringMultipleChoiceField(django_filters.fields.MultipleChoiceField):
    def clean(self, value):
        return super().clean([v for v in value or [] if v != ""])


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """Several choices; an empty one (as a page's form sends) is no choice."""

    field_class = BlankIgnoringMultipleChoiceField


class ChangeRequestFilter(django_filters.FilterSet):
    # Columns of the change itself cannot duplicate rows, so no DISTINCT (it defeats the index scan).
    status = MultipleChoiceFilter(choices=Status.choices, distinct=False)
    change_type = MultipleChoiceFilter(choices=ChangeType.choices, distinct=False)
    risk_level = MultipleChoiceFilter(choices=RiskLevel.choices, distinct=False)
    board = IdFilter(field_name="board_id", label="Board id")
    service = django_filters.CharFilter(method="filter_service", label="Service id or slug")
    requester = django_filters.CharFilter(field_name="requester__username")
    implementer = django_filters.CharFilter(field_name="implementer__username")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    planned_after = DateTimeFilter(field_name="planned_start", lookup_expr="gte")
    planned_before = DateTimeFilter(field_name="planned_start", lookup_expr="lt")

    class Meta:
        model = ChangeRequest
        fields = ["status", "change_type", "risk_level", "board", "service", "requester", "implementer"]

    def filter_service(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Resolve the slug first and test membership with EXISTS: a join would need DISTINCT.
        service_id = inputs.parse_id(value)
        service = Service.objects.filter(slug=value).values("pk")[:1] if service_id is None else service_id
        links = ChangeRequest.services.through.objects.filter(changerequest_id=OuterRef("pk"), service_id=service)
        return queryset.filter(Exists(links))


class AuditEventFilter(django_filters.FilterSet):
    after = DateTimeFilter(field_name="at", lookup_expr="gte")
    before = DateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="icontains", label="Action (any part of it: decided, vote, deployment)"
    )
    change = ChangeReferenceFilter(method="filter_change", label="Change id or reference (CHG-000014)")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "after", "before", "change"]

    def filter_change(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return queryset.filter(target_type="ccb.changerequest", target_id=str(value))


class ServiceFilter(django_filters.FilterSet):
    board = IdFilter(field_name="board_id", label="Board id")
    criticality = django_filters.ChoiceFilter(choices=Criticality.choices)

    class Meta:
        model = Service
        fields = ["board", "criticality"]


class TemplateFilter(django_filters.FilterSet):
    board = IdFilter(field_name="board_id", label="Board id")
    active = BooleanFilter()

    class Meta:
        model = StandardChangeTemplate
        fields = ["board", "active"]


class MaintenanceWindowFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service__slug", label="Service slug")
    board = IdFilter(field_name="service__board_id", label="Board id")
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    active = BooleanFilter()

    class Meta:
        model = MaintenanceWindow
        fields = ["service", "board", "environment", "active"]


class FreezeWindowFilter(django_filters.FilterSet):
    board = IdFilter(field_name="board_id", label="Board id")
    environment = django_filters.ChoiceFilter(choices=[("", "Every environment"), *Environment.choices])
    active = BooleanFilter()
    ends_after = DateTimeFilter(field_name="end", lookup_expr="gt")
    starts_before = DateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = FreezeWindow
        fields = ["board", "environment", "active", "ends_after", "starts_before"]


def apply(filterset_class: type[django_filters.FilterSet], queryset: QuerySet, filters: Filters) -> QuerySet:
    """The queryset narrowed by ``filters`` (a QueryDict or dict); PacketInvalid naming each bad filter."""
    if not filters:
        return queryset
    filterset = filterset_class(filters, queryset=queryset)
    if not filterset.is_valid():
        raise PacketInvalid({name: [str(m) for m in messages] for name, messages in filterset.errors.items()})
    return filterset.qs
