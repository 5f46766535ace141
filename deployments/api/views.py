import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ccb import filters

from .. import selectors, services
from ..models import Runbook
from . import serializers as s


class RunbookFilter(django_filters.FilterSet):
    board = filters.IdFilter(field_name="board_id", label="Board id")

    class Meta:
        model = Runbook
        fields = ["board"]


class RunbookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RunbookSerializer
    search_fields = ["name", "description"]
    filterset_class = RunbookFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Runbook.objects.none()
        runbooks = selectors.runbook_list(user=self.request.user)
        return filters.apply(RunbookFilter, runbooks, self.request.query_params if self.action == "list" else None)

    @extend_schema(request=s.RunbookCreateSerializer, responses={201: s.RunbookSerializer})
    def create(self, request):
        serializer = s.RunbookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.runbook_create(actor=request.user, **serializer.validated_data)
        return Response(
            s.RunbookSerializer(self.get_queryset().get(pk=version.runbook_id)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.RunbookVersionCreateSerializer, responses={201: s.RunbookVersionSerializer})
    @action(detail=True, methods=["post"])
    def versions(self, request, pk=None):
        runbook = self.get_object()
        serializer = s.RunbookVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.runbook_version_create(
            actor=request.user, runbook_id=runbook.pk, **serializer.validated_data
        )
        return Response(s.RunbookVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.RunbookVersionSerializer)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request, pk=None, number=None):
        version = selectors.runbook_version_get(user=request.user, runbook_id=pk, number=number)
        return Response(s.RunbookVersionSerializer(version).data)

    @extend_schema(request=None, responses=s.RunbookVersionSerializer)
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]+)/approve")
    def approve(self, request, pk=None, number=None):
        version = selectors.runbook_version_get(user=request.user, runbook_id=pk, number=number)
        version = services.runbook_version_approve(actor=request.user, version_id=version.pk)
        return Response(s.RunbookVersionSerializer(version).data)
