"""What the API's serializers share: input that names a field nobody takes is refused, date-times are ones
PostgreSQL can store, and people are shown by username."""

from collections.abc import Mapping

from django.db import models
from rest_framework import serializers

from ccb import inputs


class DateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time whose UTC offset PostgreSQL can store (±15:59); read in the viewer's zone
    when it has none."""

    default_error_messages = {"offset": inputs.OFFSET_MESSAGE}

    def enforce_timezone(self, value):
        if not inputs.offset_storable(value):
            self.fail("offset")
        return super().enforce_timezone(value)


class RefusesUnknownFields:
    """A field the serializer does not take is refused ("Unknown field."), never silently ignored: a
    misspelt field would otherwise look accepted. The schema says so (``additionalProperties: false``)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class Serializer(RefusesUnknownFields, serializers.Serializer):
    pass


class ModelSerializer(RefusesUnknownFields, serializers.ModelSerializer):
    """DRF's, refusing unknown fields, with ccb's date-time field for every model date-time."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }


def person(source: str, *, nullable: bool = False, **kwargs) -> serializers.CharField:
    """A person shown by username, read-only; ``nullable`` where nobody may be set (null, typed so)."""
    if nullable:
        kwargs.update(allow_null=True, default=None)
    return serializers.CharField(source=f"{source}.username", read_only=True, **kwargs)
