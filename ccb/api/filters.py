"""The API's filter backends. The filter sets live in ``ccb/filters.py`` and the selectors apply them."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter


class SelectorFilters(DjangoFilterBackend):
    """Puts a view's ``filterset_class`` in the schema. The view's selector applies the filters (given the
    request's query string), as the pages' do, so this backend leaves the queryset as it is."""

    def filter_queryset(self, request, queryset, view):
        return queryset


class StableOrderingFilter(OrderingFilter):
    """Any requested order ends with the primary key, so pages never repeat or skip rows that tie."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        pk = queryset.model._meta.pk.name
        if ordering and not any(o.lstrip("-") in (pk, "pk", "id") for o in ordering):
            ordering.append(f"-{pk}" if ordering[-1].startswith("-") else pk)
        return ordering
