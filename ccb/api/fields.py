"""Fields the API's serializers share: date-times PostgreSQL can store, and people shown by username."""

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


class ModelSerializer(serializers.ModelSerializer):
    """DRF's, with ccb's date-time field for every model date-time."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }


def person(source: str, *, nullable: bool = False, **kwargs) -> serializers.CharField:
    """A person shown by username, read-only; ``nullable`` where nobody may be set (null, typed so)."""
    if nullable:
        kwargs.update(allow_null=True, default=None)
    return serializers.CharField(source=f"{source}.username", read_only=True, **kwargs)
